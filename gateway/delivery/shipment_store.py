"""Shipments and their progress, kept in the outbox's database beside the events.

Written in the same transaction as the events of the turn that changed them (``record``, called by
``Outbox.append``), or on their own when a turn changed shipments and made no event (``save``), so after
a kill -9 or a power cut a shipment's progress is exactly what its published events say.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from gateway.delivery.sqlite import transaction
from gateway.domain.errors import OutboxError

SCHEMA = """
CREATE TABLE IF NOT EXISTS shipments (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    doc BLOB NOT NULL,
    updated REAL NOT NULL
);
"""

ShipmentRow = tuple[str, str, bytes]  # id, state, JSON document


class ShipmentStore:
    """The shipments table; ``db`` gives the outbox's open connection (it owns the transactions)."""

    def __init__(self, db: Callable[[], sqlite3.Connection]) -> None:
        self._db = db

    def record(self, rows: Sequence[ShipmentRow]) -> None:
        """Inside the outbox's transaction."""
        if rows:
            now = time.time()
            self._db().executemany(
                "INSERT OR REPLACE INTO shipments (id, state, doc, updated) VALUES (?, ?, ?, ?)",
                [(*row, now) for row in rows],
            )

    def save(self, rows: Sequence[ShipmentRow]) -> None:
        """In a transaction of its own; OutboxError when it cannot be stored."""
        if not rows:
            return
        db = self._db()
        try:
            with transaction(db):
                self.record(rows)
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot store {len(rows)} shipment change(s): {exc}") from exc

    def load(self) -> list[dict[str, Any]]:
        """Every stored shipment's document, oldest change first."""
        rows = self._db().execute("SELECT doc FROM shipments ORDER BY updated, rowid").fetchall()
        return [json.loads(doc) for (doc,) in rows]
