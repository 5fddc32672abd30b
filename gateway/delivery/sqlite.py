"""SQLite as the outbox uses it: a connection in autocommit mode, with explicit transactions."""

from __future__ import annotations

import contextlib
import grp
import os
import sqlite3
import stat
from pathlib import Path

from gateway.domain.errors import OutboxError


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


def private_file(path: Path, group: int | None = None) -> bool:
    """Make ``path`` owner-only (0600) whatever the umask, or 0640 owned by ``group`` (a gid) when given:
    created so if missing, tightened if open to more (True then: the caller says so in its log). SQLite
    gives its -wal and -shm files the mode of the database file, so they follow; their group is set too."""
    mode = 0o600 if group is None else 0o640
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, mode))
        path.chmod(mode)  # the umask may have taken the group's read
        if group is not None:
            os.chown(path, -1, group)
        return False
    sides = [side for side in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")) if side.exists()]
    if group is not None:
        for each in (path, *sides):
            if each.stat().st_gid != group:
                os.chown(each, -1, group)
    if stat.S_IMODE(path.stat().st_mode) & ~mode:
        for each in (path, *sides):
            each.chmod(mode)
        return True
    if group is not None and stat.S_IMODE(path.stat().st_mode) != mode:
        path.chmod(mode)  # an owner-only outbox, now shared with the group
        for side in sides:
            side.chmod(mode)
    return False


def group_id(name: str | None) -> int | None:
    """The gid of ``outbox.group``; OutboxError naming the setting when there is no such group."""
    if name is None:
        return None
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise OutboxError(f"outbox.group: no group {name!r} on this machine (getent group {name})") from None
