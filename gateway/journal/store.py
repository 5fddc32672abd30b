"""The journal's tables in the outbox's database: one entry per event, linked, written in the same
transaction that stores the event (``Outbox.append``), and the signed checkpoints.

An entry row keeps the canonical bytes that were hashed, so verifying needs no re-encoding. Rows stay
after the event's outbox row is acknowledged and deleted; ``prune`` keeps ``journal.keep`` and never
removes the checkpoint that anchors the first entry kept.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from gateway.journal.entry import GENESIS, canonical
from gateway.journal.verify import Entry, StoredBody

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    entry BLOB NOT NULL,
    hash BLOB NOT NULL,
    prev_hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_checkpoints (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);
"""

Row = tuple[int, float, bytes, bytes, bytes]


class JournalStore:
    """``db`` gives the outbox's open connection (the outbox owns the transactions)."""

    def __init__(self, db: Callable[[], sqlite3.Connection]) -> None:
        self._db = db
        self._last: tuple[int, bytes] | None = None  # (seq, hash) of the newest entry written; None: not read yet

    def last(self) -> tuple[int, bytes]:
        """(seq, hash) of the newest entry; (0, the genesis hash) for an empty journal."""
        if self._last is None:
            row = self._db().execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
            self._last = (int(row[0]), bytes(row[1])) if row else (0, GENESIS)
        return self._last

    def seal(self, payloads: list[dict[str, Any]], now: float) -> tuple[list[Row], tuple[int, bytes]]:
        """Link each payload (in seq order) to the one before, and add ``hash`` and ``prev_hash`` to it.
        Returns the rows to insert and the new last hash; nothing changes here until ``written``."""
        prev = self.last()[1]
        rows: list[Row] = []
        sha256 = hashlib.sha256
        for payload in payloads:
            body = canonical(payload)
            digest = sha256(prev + body).digest()
            rows.append((int(payload["seq"]), now, body, digest, prev))
            payload["prev_hash"] = prev.hex()
            payload["hash"] = digest.hex()
            prev = digest
        return rows, (rows[-1][0] if rows else self.last()[0], prev)

    def insert(self, rows: list[Row]) -> None:
        """Inside the outbox's transaction."""
        self._db().executemany("INSERT INTO journal VALUES (?, ?, ?, ?, ?)", rows)

    def written(self, last: tuple[int, bytes]) -> None:
        """After the transaction committed."""
        self._last = last

    def forget(self) -> None:
        """After a failed transaction (or a new database): read the last hash again."""
        self._last = None

    # ---- checkpoints and reading -------------------------------------------------------------------

    def add_checkpoint(self, checkpoint: Mapping[str, Any]) -> None:
        body = json.dumps(checkpoint, sort_keys=True, separators=(",", ":")).encode()
        self._db().execute("INSERT OR REPLACE INTO journal_checkpoints VALUES (?, ?)", (int(checkpoint["seq"]), body))

    def checkpoints(self, from_seq: int = 0, to_seq: int | None = None) -> list[dict[str, Any]]:
        rows = self._db().execute(
            "SELECT body FROM journal_checkpoints WHERE seq >= ? AND seq <= ? ORDER BY seq",
            (from_seq, to_seq if to_seq is not None else 2**62),
        )
        return [json.loads(body) for (body,) in rows]

    def entries(self, from_seq: int = 0, to_seq: int | None = None) -> Iterator[Entry]:
        rows = self._db().execute(
            "SELECT seq, entry, hash, prev_hash FROM journal WHERE seq >= ? AND seq <= ? ORDER BY seq",
            (from_seq, to_seq if to_seq is not None else 2**62),
        )
        for seq, body, digest, prev in rows:
            raw = body.encode() if isinstance(body, str) else bytes(body)  # an edit in SQL may leave TEXT
            yield Entry(seq, StoredBody(raw), bytes(digest).hex(), bytes(prev).hex())

    def prune(self, before: float) -> int:
        """Remove entries created before ``before`` up to the newest checkpoint at or below them, so that
        the first entry kept is anchored by a signed checkpoint (its prev_hash is that checkpoint's hash)."""
        db = self._db()
        row = db.execute("SELECT MAX(seq) FROM journal WHERE created < ?", (before,)).fetchone()
        if not row or row[0] is None:
            return 0
        anchor = db.execute("SELECT MAX(seq) FROM journal_checkpoints WHERE seq <= ?", (row[0],)).fetchone()
        if not anchor or anchor[0] is None:
            return 0
        cursor = db.execute("DELETE FROM journal WHERE seq <= ?", (anchor[0],))
        # a checkpoint that announces a new key stays: a verifier follows the rotations from the first key
        db.execute(
            "DELETE FROM journal_checkpoints WHERE seq < ? AND CAST(body AS TEXT) LIKE '%\"next_key\":null%'",
            (anchor[0],),
        )
        return cursor.rowcount
