"""The tallies behind the reports, kept in the outbox's database beside the events.

Outbox rows are deleted once the broker has them, so reports cannot be counted from the events table:
``record`` (called by ``Outbox.append`` inside the transaction that stores the events) adds each stored
event to a per-minute bucket ``(minute, owner, location, kind) -> count, first_seq, last_seq``, and to the
gateway's total of the minute (owner and location ``*``, kind ``events``). The minute is the one the event
was *stored* in (its seq given), not the event's own time, so the minutes of a period cover one contiguous
seq range. Rejected events (``reject_new``) are not stored and not counted; their seq values are a gap
that the next stored event announces with ``gap_before``. ``report`` and ``command`` events count in the total only.

Kinds: ``arrived``, ``departed_in``, ``departed_out``, ``departed`` (no direction), ``static``, ``scanned``,
``exception:<reason>``, ``shipment_verified``, ``shipment_exception`` (any other type under its own name).

Also per minute the seconds each reader was connected (``add_connected``, written by the report desk once
a minute in a transaction of its own), and ``reported_to``: the end of the last period whose reports were
stored, advanced in the same transaction as the report events, so a restart never reports a period twice.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence

from gateway.delivery.sqlite import transaction
from gateway.domain.model import LocationEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS report_tally (
    minute INTEGER NOT NULL,
    owner TEXT NOT NULL,
    location TEXT NOT NULL,
    kind TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (minute, owner, location, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS report_readers (
    minute INTEGER NOT NULL,
    reader TEXT NOT NULL,
    connected_s REAL NOT NULL,
    PRIMARY KEY (minute, reader)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS report_state (key TEXT PRIMARY KEY, value REAL NOT NULL);
"""

TOTAL = "*"  # owner and location of the gateway's total per minute
_TALLY = (
    "INSERT INTO report_tally VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (minute, owner, location, kind) DO UPDATE "
    "SET count = count + excluded.count, first_seq = min(first_seq, excluded.first_seq), "
    "last_seq = max(last_seq, excluded.last_seq)"
)
_CONNECTED = (
    "INSERT INTO report_readers VALUES (?, ?, ?) ON CONFLICT (minute, reader) DO UPDATE "
    "SET connected_s = connected_s + excluded.connected_s"
)
_MARK = (
    "INSERT INTO report_state VALUES ('reported_to', ?) ON CONFLICT (key) DO UPDATE "
    "SET value = max(value, excluded.value)"
)


def kind_of(event: LocationEvent) -> str:
    """The tally an event counts in."""
    kind = event.type
    if kind == "departed":
        return f"departed_{event.direction}" if event.direction in ("in", "out") else "departed"
    if kind == "exception":
        return f"exception:{event.reason}"
    return kind


class ReportStore:
    """The report tables; ``db`` gives the outbox's open connection (it owns the transactions). ``clock``
    says when events are stored (the outbox's time of commit)."""

    def __init__(self, db: Callable[[], sqlite3.Connection], clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self.clock = clock

    def record(self, events: Sequence[LocationEvent], rejected: Sequence[int] = ()) -> None:
        """Inside the outbox's transaction that stores ``events`` (each with its seq); ``rejected``: the seqs
        that were not stored."""
        skip = set(rejected)
        tallies: dict[tuple[str, str, str], list[int]] = {}
        count, first, last, mark = 0, 0, 0, 0.0
        for event in events:
            seq = event.seq
            if skip and seq in skip:
                continue
            count, first, last = count + 1, first or seq, seq  # seqs ascend within an append
            if event.type == "report":
                mark = max(mark, event.last_seen)
                continue
            if event.type == "command":
                continue
            key = (event.owner or "", event.location, kind_of(event))
            tally = tallies.get(key)
            if tally is None:
                tallies[key] = [1, seq, seq]
            else:
                tally[0] += 1
                tally[2] = seq
        if not count:
            return
        minute = int(self.clock() // 60)
        rows = [(minute, *key, *tally) for key, tally in tallies.items()]
        rows.append((minute, TOTAL, TOTAL, "events", count, first, last))
        db = self._db()
        db.executemany(_TALLY, rows)
        if mark:
            db.execute(_MARK, (mark,))

    def add_connected(self, rows: Iterable[tuple[int, str, float]]) -> None:
        """(minute, reader, seconds connected) added, in a transaction of its own; sqlite3.Error or
        OutboxError (not open) when it cannot be stored."""
        db = self._db()
        with transaction(db):
            db.executemany(_CONNECTED, list(rows))

    def mark(self, reported_to: float) -> None:
        """Periods up to ``reported_to`` are reported (a period without events has no report event to carry
        the mark); in a transaction of its own."""
        db = self._db()
        with transaction(db):
            db.execute(_MARK, (reported_to,))

    def reported_to(self) -> float | None:
        """The end of the last period reported; None: no period ever was."""
        row = self._db().execute("SELECT value FROM report_state WHERE key = 'reported_to'").fetchone()
        return float(row[0]) if row else None

    def first_minute(self) -> int | None:
        row = self._db().execute("SELECT min(minute) FROM report_tally").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def expire(self, before: float) -> None:
        """Forget buckets of minutes that started before ``before`` (``reports.keep``)."""
        db = self._db()
        with transaction(db):
            db.execute("DELETE FROM report_tally WHERE minute < ?", (int(before // 60),))
            db.execute("DELETE FROM report_readers WHERE minute < ?", (int(before // 60),))

    def connection(self) -> sqlite3.Connection:
        return self._db()
