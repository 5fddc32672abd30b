"""Which tags are present, kept in the outbox's database beside the events.

Changed in the same transaction as the events that say so (``record``, called by ``Outbox.append``), so
after a restart the gateway knows them and neither announces them again nor forgets their departure;
``refresh`` brings last_seen and the counts up to date now and then.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence

from gateway.delivery.sqlite import transaction
from gateway.domain.log import get_logger
from gateway.domain.model import LocationEvent, PresenceRow, antenna_mask

log = get_logger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS presence (
    location TEXT NOT NULL,
    epc TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    reads INTEGER NOT NULL,
    antennas INTEGER NOT NULL,
    rssi_max REAL,
    reader TEXT NOT NULL,
    static INTEGER NOT NULL,
    PRIMARY KEY (location, epc)
);
"""


class PresenceStore:
    """The presence table; ``db`` gives the outbox's open connection (it owns the transactions)."""

    def __init__(self, db: Callable[[], sqlite3.Connection]) -> None:
        self._db = db

    def record(self, events: Sequence[LocationEvent]) -> None:
        """Inside the outbox's transaction that stores ``events``."""
        db = self._db()
        for event in events:
            if event.type == "arrived" or event.type == "static":
                db.execute(
                    "INSERT OR REPLACE INTO presence VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        event.location,
                        event.epc,
                        event.first_seen,
                        event.last_seen,
                        event.reads,
                        antenna_mask(event.antennas),
                        event.rssi_max,
                        event.reader,
                        int(event.type == "static"),
                    ),
                )
            elif event.type == "departed":
                db.execute("DELETE FROM presence WHERE location = ? AND epc = ?", (event.location, event.epc))

    def refresh(self, rows: Iterable[PresenceRow]) -> None:
        """Bring last_seen and the counts of present tags up to date (called now and then)."""
        db = self._db()
        try:
            with transaction(db):
                db.executemany(
                    "UPDATE presence SET last_seen = ?, reads = ?, antennas = ?, rssi_max = ?, reader = ? "
                    "WHERE location = ? AND epc = ?",
                    [(r.last_seen, r.reads, r.antennas, r.rssi_max, r.reader, r.location, r.epc) for r in rows],
                )
        except sqlite3.Error as exc:
            log.error("presence_refresh_failed", error=str(exc))

    def forget(self, keep: set[str]) -> None:
        """After a reload: forget the tags of locations whose presence was not carried over."""
        db = self._db()
        try:
            with transaction(db):
                for (location,) in db.execute("SELECT DISTINCT location FROM presence").fetchall():
                    if location not in keep:
                        db.execute("DELETE FROM presence WHERE location = ?", (location,))
        except sqlite3.Error as exc:
            log.error("presence_forget_failed", error=str(exc))

    def load(self) -> list[PresenceRow]:
        """Every present tag, oldest read first."""
        rows = self._db().execute("SELECT * FROM presence ORDER BY last_seen")
        return [
            PresenceRow(
                str(r[0]), str(r[1]), float(r[2]), float(r[3]), int(r[4]), int(r[5]), r[6], str(r[7]), r[8] == 1
            )
            for r in rows
        ]
