"""The durable outbox: every event is committed to SQLite before it is published.

An event gets its ``seq`` here, inside the same transaction that stores it, so a sequence number is
never handed out without being durable and never repeats, also across restarts: the highest ``seq``
ever given is kept in ``meta`` (even after its row is gone), and a small side file
(``<outbox>.seq``) reserves numbers in blocks, so that even an outbox file that had to be replaced
never makes ``seq`` go back. A row is deleted only when the broker has acknowledged it (PUBACK).
A queue, as the dispatcher sees it: ``append``, ``next_batch``, ``accept``, ``expire``; seq allocation
(``gateway.delivery.seq``), the presence table (``gateway.delivery.presence_store``) and the reports'
tallies (``gateway.delivery.report_store``) live beside it, in the same transactions.
WAL mode with ``synchronous=FULL``: a committed event survives a power cut. Events are committed a
batch at a time, which keeps throughput high.

Retention, while the broker stays away: ``max_events``, ``max_bytes``, ``max_age``, and a policy
(``drop_oldest`` or ``reject_new``). Every drop is counted, logged with the seq range lost, and the
next event to be published carries ``gap_before``: how many seq values just before it will never
be delivered. Rows already handed to the broker connection (``protect_through``) are never dropped.

A row may also hold the event's EPCIS document (``epcis_topic``, ``epcis_payload``): a second message
published right after the event, under the same ``seq`` and acknowledged together with it (see
``gateway.delivery.dispatcher``), so EPCIS documents are as durable and as ordered as events and use
no ``seq`` of their own.

A corrupt or truncated outbox file at start is moved aside, kept for inspection, and a fresh one
is started.

Not thread-safe: the gateway's main loop owns the outbox.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.config import OutboxSettings
from gateway.delivery.actor_store import SCHEMA as ACTOR_SCHEMA
from gateway.delivery.actor_store import ActorStore
from gateway.delivery.presence_store import SCHEMA as PRESENCE_SCHEMA
from gateway.delivery.presence_store import PresenceStore
from gateway.delivery.report_store import SCHEMA as REPORT_SCHEMA
from gateway.delivery.report_store import ReportStore
from gateway.delivery.retention import SIZE, Row, row_size, seq_ranges, with_gap
from gateway.delivery.seq import SEQ_BLOCK, SeqReservation
from gateway.delivery.shipment_store import SCHEMA as SHIPMENT_SCHEMA
from gateway.delivery.shipment_store import ShipmentRow, ShipmentStore
from gateway.delivery.sqlite import group_id, private_file, transaction
from gateway.domain.errors import OutboxError
from gateway.domain.log import get_logger
from gateway.domain.model import LocationEvent
from gateway.journal.store import SCHEMA as JOURNAL_SCHEMA
from gateway.journal.store import JournalStore

log = get_logger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created REAL NOT NULL,
    epcis_topic TEXT,
    epcis_payload BLOB
);
"""


@dataclass(slots=True, frozen=True)
class OutboxItem:
    """An event waiting for its PUBACK, as stored."""

    seq: int
    topic: str
    payload: bytes
    epcis_topic: str | None = None
    epcis_payload: bytes | None = None


class Outbox:
    """Events committed but not yet acknowledged by the broker, in ``seq`` order."""

    def __init__(self, settings: OutboxSettings | Path, journal: bool = False) -> None:
        """``journal``: link every event into the journal (``gateway.journal.store``) as it is stored."""
        if isinstance(settings, Path):
            settings = OutboxSettings(path=settings)
        self.settings = settings
        self.path = settings.path
        self._seq = SeqReservation(self.path.with_name(self.path.name + ".seq"))
        self.presence = PresenceStore(self._require)
        self.shipments = ShipmentStore(self._require)
        self.actors = ActorStore(self._require)
        self.reports = ReportStore(self._require)
        self.journal = JournalStore(self._require) if journal else None
        self._db: sqlite3.Connection | None = None
        self._last_seq = 0
        self._reserved = 0
        self._count = 0
        self._bytes = 0
        self.added = 0
        self.acknowledged = 0
        self.dropped: Counter[str] = Counter()  # reason -> events lost
        self.moved_aside: Path | None = None
        self.appended: list[dict[str, Any]] = []  # the payloads of the last append

    # ---- life cycle ------------------------------------------------------------------------------

    def open(self) -> None:
        """Open (or create) the outbox; a corrupt file is moved aside and a fresh one started."""
        if self._db is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutboxError(f"cannot create the outbox folder {self.path.parent}: {exc}") from exc
        try:
            db = self._connect()
        except sqlite3.DatabaseError as exc:
            self._move_aside(exc)
            try:
                db = self._connect()
            except sqlite3.Error as again:
                raise OutboxError(f"cannot create a fresh outbox {self.path}: {again}") from again
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc
        self._db = db
        last_seq = self._meta("last_seq")
        reserved = self._seq.reserved()
        if last_seq < reserved - SEQ_BLOCK and self._count == 0:
            # The outbox file is new but numbers were handed out before: never go back.
            log.critical(
                "seq_resumed",
                outbox=str(self.path),
                from_seq=reserved,
                detail="the outbox file was replaced; seq continues above every number reserved before, "
                "so consumers see a jump",
            )
            last_seq = reserved
        self._last_seq = last_seq
        self._reserved = max(reserved, last_seq)
        log.info("opened", outbox=str(self.path), pending=self._count, last_seq=self._last_seq)

    def _connect(self) -> sqlite3.Connection:
        group = group_id(self.settings.group)
        try:
            if private_file(self.path, group):  # it holds the goods' movements: owner-only, whatever the umask
                mode = "0600" if group is None else f"0640 group {self.settings.group}"
                log.warning("outbox_file_open", outbox=str(self.path), detail=f"was open to more: now {mode}")
        except OSError as exc:
            member = f" (outbox.group {self.settings.group}: is the gateway's user a member?)" if group else ""
            raise OutboxError(f"cannot open outbox {self.path}: {exc}{member}") from exc
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {check}")
            db.executescript(
                _SCHEMA + PRESENCE_SCHEMA + SHIPMENT_SCHEMA + REPORT_SCHEMA + JOURNAL_SCHEMA + ACTOR_SCHEMA
            )
            if "epcis_payload" not in {r[1] for r in db.execute("PRAGMA table_info(events)")}:
                db.execute("ALTER TABLE events ADD COLUMN epcis_topic TEXT")  # an outbox from before EPCIS
                db.execute("ALTER TABLE events ADD COLUMN epcis_payload BLOB")
            row = db.execute(f"SELECT count(*), coalesce(sum({SIZE}), 0) FROM events").fetchone()
        except sqlite3.Error:
            db.close()
            raise
        self._count, self._bytes = int(row[0]), int(row[1])
        return db

    def _move_aside(self, exc: Exception) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(self.path) + suffix)
            if source.exists():
                os.replace(source, Path(str(target) + suffix))
        self.moved_aside = target
        log.critical(
            "corrupt_outbox_moved_aside",
            outbox=str(self.path),
            moved_to=str(target),
            error=str(exc),
            detail="events in it that were not yet sent are not published; a fresh outbox is started",
        )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self.journal is not None:
            self.journal.forget()

    def write(self, change: Callable[[], None]) -> None:
        """Run ``change`` (writes of a store beside the events) in one transaction of its own."""
        with transaction(self._require()):
            change()

    @property
    def is_open(self) -> bool:
        return self._db is not None

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def pending_count(self) -> int:
        return self._count

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    # ---- writing ---------------------------------------------------------------------------------

    def append(
        self,
        events: Sequence[LocationEvent],
        topic_of: Callable[[LocationEvent], str],
        protect_through: int = 0,
        epcis_of: Callable[[LocationEvent], tuple[str, bytes] | None] | None = None,
        shipments: Sequence[ShipmentRow] = (),
    ) -> None:
        """Give each event its ``seq`` and commit them in one transaction, applying the retention rules.

        When this returns, the stored events are durable. On failure nothing is stored, no ``seq`` is
        used, and OutboxError is raised. ``protect_through``: rows up to this seq are in flight and are
        not dropped. ``epcis_of``: the event's EPCIS (topic, document) to store in the same row, or None.
        ``shipments``: shipment changes of the same turn, committed with the events.
        """
        if not events:
            self.shipments.save(shipments)
            return
        db = self._require()
        settings = self.settings
        seq = self._last_seq
        now = time.time()
        rows: list[Row] = []
        for event in events:
            seq += 1
            event.seq = seq
        docs = [event.to_payload() for event in events]
        journal, linked = self.journal.seal(docs, now) if self.journal is not None else ([], (0, b""))
        for event, doc in zip(events, docs, strict=True):
            payload = json.dumps(doc, separators=(",", ":")).encode()
            epcis = epcis_of(event) if epcis_of is not None else None
            rows.append((event.seq, event.id, topic_of(event), payload, now, *(epcis or (None, None))))
        rejected: list[int] = []
        if settings.policy == "reject_new":
            room_events = settings.max_events - self._count
            room_bytes = settings.max_bytes - self._bytes
            kept = []
            for row in rows:
                if room_events > 0 and room_bytes >= row_size(row):
                    kept.append(row)
                    room_events -= 1
                    room_bytes -= row_size(row)
                else:
                    rejected.append(row[0])
            rows = kept
        try:
            with transaction(db):
                if self._reserved < seq:
                    self._reserved = self._seq.reserve(seq + SEQ_BLOCK)
                if rows:
                    gap = self._meta("pending_gap")
                    if gap:
                        rows[0] = with_gap(rows[0], gap)
                        self._set_meta("pending_gap", 0)
                    db.executemany(
                        "INSERT INTO events (seq, id, topic, payload, created, epcis_topic, epcis_payload) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        rows,
                    )
                if rejected:
                    self._set_meta("pending_gap", self._meta("pending_gap") + len(rejected))
                self._set_meta("last_seq", seq)
                if self.journal is not None:
                    self.journal.insert(journal)  # every event, also those refused for delivery
                self.presence.record(events)
                self.reports.record(events, rejected)
                self.shipments.record(shipments)
                self.actors.record(events)
                self._count += len(rows)
                self._bytes += sum(row_size(r) for r in rows)
                dropped = self._enforce_limits(protect_through) if settings.policy == "drop_oldest" else []
        except sqlite3.Error as exc:
            for event in events:
                event.seq = 0
            self._recount()
            raise OutboxError(f"cannot store {len(events)} event(s) in {self.path}: {exc}") from exc
        if self.journal is not None:
            self.journal.written(linked)
        self.appended = docs  # the payloads just committed (with seq, hash), for whoever shows the last events
        self._last_seq = seq
        self.added += len(rows)
        if rejected:
            self._report("reject_new", rejected)
        if dropped:
            self._report("drop_oldest", dropped)

    def expire(self, now: float, protect_through: int = 0) -> None:
        """Drop events older than ``max_age`` (not those in flight)."""
        db = self._require()
        before = now - self.settings.max_age
        try:
            with transaction(db):
                seqs = [
                    int(s)
                    for (s,) in db.execute(
                        "SELECT seq FROM events WHERE created < ? AND seq > ? ORDER BY seq", (before, protect_through)
                    )
                ]
                if seqs:
                    self._drop(seqs)
        except sqlite3.Error as exc:
            self._recount()
            log.error("expire_failed", outbox=str(self.path), error=str(exc))
            return
        if seqs:
            self._report("max_age", seqs)

    def _enforce_limits(self, protect_through: int) -> list[int]:
        """drop_oldest: delete the oldest rows not in flight until the limits hold. Inside a transaction."""
        settings = self.settings
        excess_events = self._count - settings.max_events
        excess_bytes = self._bytes - settings.max_bytes
        if excess_events <= 0 and excess_bytes <= 0:
            return []
        db = self._require()
        victims: list[int] = []
        for seq, size in db.execute(f"SELECT seq, {SIZE} FROM events WHERE seq > ? ORDER BY seq", (protect_through,)):
            if excess_events <= 0 and excess_bytes <= 0:
                break
            victims.append(int(seq))
            excess_events -= 1
            excess_bytes -= int(size)
        if victims:
            self._drop(victims)
        return victims

    def _drop(self, seqs: list[int]) -> None:
        """Delete rows and mark the next surviving one (or the next new one) with ``gap_before``."""
        db = self._require()
        row = db.execute(
            f"SELECT coalesce(sum({SIZE}), 0) FROM events WHERE seq BETWEEN ? AND ?", (seqs[0], seqs[-1])
        ).fetchone()
        # a dropped row may itself carry gap_before: those losses move on to the next row too
        lost = len(seqs)
        for (payload_text,) in db.execute(
            "SELECT payload FROM events WHERE seq BETWEEN ? AND ? AND instr(payload, '\"gap_before\"') > 0",
            (seqs[0], seqs[-1]),
        ):
            lost += int(json.loads(payload_text).get("gap_before", 0))
        db.executemany("DELETE FROM events WHERE seq = ?", [(s,) for s in seqs])
        self._count -= len(seqs)
        self._bytes -= int(row[0])
        nxt = db.execute("SELECT seq, payload FROM events WHERE seq > ? ORDER BY seq LIMIT 1", (seqs[-1],)).fetchone()
        if nxt is None:
            self._set_meta("pending_gap", self._meta("pending_gap") + lost)
            return
        payload = json.loads(nxt[1])
        payload["gap_before"] = payload.get("gap_before", 0) + lost
        new = json.dumps(payload, separators=(",", ":")).encode()
        db.execute("UPDATE events SET payload = ? WHERE seq = ?", (new, nxt[0]))
        self._bytes += len(new) - len(nxt[1])

    def _report(self, reason: str, seqs: list[int]) -> None:
        self.dropped[reason] += len(seqs)
        log.error(
            "events_dropped",
            reason=reason,
            count=len(seqs),
            seq_ranges=seq_ranges(seqs),
            outbox=str(self.path),
            max_events=self.settings.max_events,
            max_bytes=self.settings.max_bytes,
        )

    # ---- reading and acknowledging ---------------------------------------------------------------

    def next_batch(self, after_seq: int, limit: int) -> list[OutboxItem]:
        """Up to ``limit`` stored events with ``seq`` greater than ``after_seq``, oldest first."""
        db = self._require()
        rows = db.execute(
            "SELECT seq, topic, payload, epcis_topic, epcis_payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [
            OutboxItem(seq, topic, bytes(payload), epcis_topic, bytes(epcis) if epcis is not None else None)
            for seq, topic, payload, epcis_topic, epcis in rows
        ]

    def oldest_created(self) -> float | None:
        row = self._require().execute("SELECT created FROM events ORDER BY seq LIMIT 1").fetchone()
        return float(row[0]) if row else None

    def accept(self, seqs: Iterable[int]) -> None:
        """The broker has these rows (every part of each): forget them."""
        params = [(seq,) for seq in seqs]
        if not params:
            return
        db = self._require()
        try:
            with transaction(db):
                lo, hi = min(params)[0], max(params)[0]
                before = db.execute(
                    f"SELECT count(*), coalesce(sum({SIZE}), 0) FROM events WHERE seq BETWEEN ? AND ?", (lo, hi)
                ).fetchone()
                db.executemany("DELETE FROM events WHERE seq = ?", params)
                after = db.execute(
                    f"SELECT count(*), coalesce(sum({SIZE}), 0) FROM events WHERE seq BETWEEN ? AND ?", (lo, hi)
                ).fetchone()
        except sqlite3.Error as exc:
            # Not fatal: the events stay and are sent again after a restart (duplicates, never losses).
            log.error("ack_failed", outbox=str(self.path), count=len(params), error=str(exc))
            return
        self._count -= int(before[0]) - int(after[0])
        self._bytes -= int(before[1]) - int(after[1])
        self.acknowledged += int(before[0]) - int(after[0])

    # ---- internals -------------------------------------------------------------------------------

    def _require(self) -> sqlite3.Connection:
        if self._db is None:
            raise OutboxError("outbox is not open")
        return self._db

    def _meta(self, key: str) -> int:
        row = self._require().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _set_meta(self, key: str, value: int) -> None:
        self._require().execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _recount(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            row = self._require().execute(f"SELECT count(*), coalesce(sum({SIZE}), 0) FROM events").fetchone()
            self._count, self._bytes = int(row[0]), int(row[1])
