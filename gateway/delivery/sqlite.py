"""SQLite as the outbox uses it: a connection in autocommit mode, with explicit transactions."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from pathlib import Path


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


def private_file(path: Path) -> bool:
    """Make ``path`` owner-only (0600) whatever the umask: created so if missing, tightened if open to
    others (True then: the caller says so in its log). SQLite gives its -wal and -shm files the mode of
    the database file, so they follow."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        return False
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)
        for side in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if side.exists():
                side.chmod(0o600)
        return True
    return False
