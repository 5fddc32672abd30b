"""The durable outbox: every event is committed to SQLite before it is published.

An event gets its ``seq`` here, inside the same transaction that stores it, so a sequence number is
never handed out without being durable and never repeats, also across restarts (the highest ``seq``
ever given is kept in ``meta`` even after its row is gone). A row is deleted only when the broker
has acknowledged it (PUBACK). WAL mode with ``synchronous=FULL``: a committed event survives a
power cut. Events are committed a batch at a time, which keeps throughput high.

Not thread-safe: the gateway's main loop owns the outbox.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import OutboxError
from gateway.model import LocationEvent

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created REAL NOT NULL
);
"""


@dataclass(slots=True, frozen=True)
class OutboxItem:
    """An event waiting for its PUBACK, as stored."""

    seq: int
    topic: str
    payload: bytes


class Outbox:
    """Events committed but not yet acknowledged by the broker, in ``seq`` order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._last_seq = 0
        self.added = 0
        self.acknowledged = 0

    def open(self) -> None:
        if self._db is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            row = db.execute(
                "SELECT max(coalesce((SELECT value FROM meta WHERE key = 'last_seq'), 0),"
                " coalesce((SELECT max(seq) FROM events), 0))"
            ).fetchone()
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc
        self._db = db
        self._last_seq = int(row[0])
        log.info("outbox=%s event=opened pending=%d last_seq=%d", self.path, self.pending_count(), self._last_seq)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def append(self, events: Sequence[LocationEvent], topic_of: Callable[[LocationEvent], str]) -> None:
        """Give each event its ``seq`` and commit them all in one transaction.

        When this returns, the events are durable. On failure nothing is stored, no ``seq`` is used,
        and OutboxError is raised.
        """
        if not events:
            return
        db = self._require()
        seq = self._last_seq
        now = time.time()
        rows = []
        for event in events:
            seq += 1
            event.seq = seq
            payload = json.dumps(event.to_payload(), separators=(",", ":")).encode()
            rows.append((seq, event.id, topic_of(event), payload, now))
        try:
            with _transaction(db):
                db.executemany("INSERT INTO events (seq, id, topic, payload, created) VALUES (?, ?, ?, ?, ?)", rows)
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_seq', ?)", (seq,))
        except sqlite3.Error as exc:
            for event in events:
                event.seq = 0
            raise OutboxError(f"cannot store {len(events)} event(s) in {self.path}: {exc}") from exc
        self._last_seq = seq
        self.added += len(rows)

    def pending(self, after_seq: int, limit: int) -> list[OutboxItem]:
        """Up to ``limit`` stored events with ``seq`` greater than ``after_seq``, oldest first."""
        db = self._require()
        rows = db.execute(
            "SELECT seq, topic, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
        ).fetchall()
        return [OutboxItem(seq, topic, bytes(payload)) for seq, topic, payload in rows]

    def acknowledge(self, seqs: Iterable[int]) -> None:
        """The broker has these events: forget them."""
        params = [(seq,) for seq in seqs]
        if not params:
            return
        db = self._require()
        try:
            with _transaction(db):
                db.executemany("DELETE FROM events WHERE seq = ?", params)
        except sqlite3.Error as exc:
            # Not fatal: the events stay and are sent again after a restart (duplicates, never losses).
            log.error("outbox=%s event=ack_failed count=%d error=%s", self.path, len(params), exc)
            return
        self.acknowledged += len(params)

    def pending_count(self) -> int:
        row = self._require().execute("SELECT count(*) FROM events").fetchone()
        return int(row[0])

    def _require(self) -> sqlite3.Connection:
        if self._db is None:
            raise OutboxError("outbox is not open")
        return self._db


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error (the connection is in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
