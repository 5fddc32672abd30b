"""Who is signed in at each door (gateway.core.actors), kept in the outbox's database beside the events.

Changed in the same transaction as the ``actor_sign_in`` / ``actor_sign_out`` command events that say so
(``record``, called by ``Outbox.append`` over every stored batch), so after a kill -9 the gateway knows
exactly who the journal says is signed in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from gateway.domain.model import LocationEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS actors_signed_in (
    location TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    id TEXT NOT NULL,
    since REAL NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (location, kind)
);
"""


class ActorStore:
    """The actors_signed_in table; ``db`` gives the outbox's open connection (it owns the transactions)."""

    def __init__(self, db: Callable[[], sqlite3.Connection]) -> None:
        self._db = db

    def record(self, events: Sequence[LocationEvent]) -> None:
        """Inside the outbox's transaction: the batch's sign-ins and sign-outs, in order."""
        for event in events:
            if event.type != "command":
                continue
            command = event.extra.get("command")
            if command not in ("actor_sign_in", "actor_sign_out"):
                continue
            kind = "operator" if "operator" in event.extra else "vehicle"
            actor = event.extra[kind]
            db = self._db()
            if command == "actor_sign_in":
                row = (event.location, kind, actor["name"], actor["id"], event.time, event.extra["source"])
                db.execute("INSERT OR REPLACE INTO actors_signed_in VALUES (?, ?, ?, ?, ?, ?)", row)
            else:
                db.execute(
                    "DELETE FROM actors_signed_in WHERE location = ? AND kind = ? AND id = ?",
                    (event.location, kind, actor["id"]),
                )

    def load(self) -> list[tuple[str, str, str, str, float, str]]:
        """(location, kind, name, id, since, source) of each sign-in, oldest first."""
        rows = self._db().execute("SELECT location, kind, name, id, since, source FROM actors_signed_in ORDER BY since")
        return [(str(a), str(b), str(c), str(d), float(e), str(f)) for a, b, c, d, e, f in rows]
