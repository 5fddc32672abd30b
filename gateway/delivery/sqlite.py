"""SQLite as the outbox uses it: a connection in autocommit mode, with explicit transactions."""

from __future__ import annotations

import contextlib
import sqlite3


class transaction:
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
