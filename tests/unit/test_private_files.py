"""Files with property data are owner-only whatever the umask: the outbox (with its -wal and -shm), its
seq reservation, the journal's key; an outbox left open to others is tightened, and said so."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config.traceability import JournalSettings
from gateway.delivery.outbox import Outbox
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
