"""Files with property data are owner-only whatever the umask: the outbox (with its -wal and -shm), its
seq reservation, the journal's key; an outbox left open to others is tightened, and said so; with
outbox.group, the outbox is 0640 of that group and the key still owner-only."""

from __future__ import annotations

import grp
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import OutboxSettings
from gateway.config.traceability import JournalSettings
from gateway.delivery.outbox import Outbox
from gateway.domain.errors import OutboxError
from gateway.domain.model import LocationEvent
from gateway.journal.checkpointer import load_key


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)  # a foreground `dockgate run` from a shell: files readable by everyone
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_outbox_its_side_files_and_the_key_are_owner_only(tmp_path: Path, open_umask: None) -> None:
    outbox = Outbox(tmp_path / "outbox.db", journal=True)
    outbox.open()
    event = LocationEvent("arrived", 1.0, "gw", "dock-1", "r", "3074257BF7194E4000000001", [1], 2, None, 1.0, 1.0)
    outbox.append([event], lambda e: "t")
    load_key(JournalSettings(), outbox.path)
    files = ["outbox.db", "outbox.db-wal", "outbox.db-shm", "outbox.db.seq", "outbox.db.journal.key"]
    assert {name: _mode(tmp_path / name) for name in files} == dict.fromkeys(files, 0o600)
    outbox.close()


def test_an_outbox_open_to_others_is_tightened_and_logged(
    tmp_path: Path, open_umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.open()
    outbox.close()
    (tmp_path / "outbox.db").chmod(0o644)
    again = Outbox(tmp_path / "outbox.db")
    again.open()
    assert _mode(tmp_path / "outbox.db") == 0o600
    assert "outbox_file_open" in caplog.text
    again.close()


def test_a_configured_group_may_read_the_outbox_and_never_the_key(tmp_path: Path, open_umask: None) -> None:
    group = grp.getgrgid(os.getgid()).gr_name  # a group this process is in (root: any would do)
    outbox = Outbox(OutboxSettings(path=tmp_path / "outbox.db", group=group), journal=True)
    os.umask(0o077)  # even a umask that takes the group's read away
    outbox.open()
    event = LocationEvent("arrived", 1.0, "gw", "dock-1", "r", "3074257BF7194E4000000001", [1], 2, None, 1.0, 1.0)
    outbox.append([event], lambda e: "t")
    load_key(JournalSettings(), outbox.path)
    for name in ("outbox.db", "outbox.db-wal", "outbox.db-shm"):
        info = (tmp_path / name).stat()
        assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o640, os.getgid()), name
    assert _mode(tmp_path / "outbox.db.journal.key") == 0o600  # a group member must not be able to sign
    outbox.close()
    (tmp_path / "outbox.db").chmod(0o666)  # opened up by hand: tightened to the group's mode again
    again = Outbox(OutboxSettings(path=tmp_path / "outbox.db", group=group))
    again.open()
    assert _mode(tmp_path / "outbox.db") == 0o640
    again.close()


def test_an_unknown_group_is_refused_naming_the_setting(tmp_path: Path) -> None:
    outbox = Outbox(OutboxSettings(path=tmp_path / "outbox.db", group="no-such-group-here"))
    with pytest.raises(OutboxError, match=r"outbox\.group: no group 'no-such-group-here'"):
        outbox.open()
    assert not (tmp_path / "outbox.db").exists()
