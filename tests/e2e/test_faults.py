"""Faults the gateway must live through: a full disk under the outbox, a corrupt outbox at start."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, Broker, Subscriber, wait_until
from tests.e2e.test_e2e import spawn, start_simulator, stop

QUICK = REPO / "simulators" / "llrp" / "examples" / "quick.yaml"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real, tiny filesystem (tmpfs) that the test can fill up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def config(tmp_path: Path, broker: Broker, reader_port: int, outbox: Path) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"""\
gateway: {{id: gw-test}}
mqtt: {{host: 127.0.0.1, port: {broker.port}, reconnect_delay_max: 2s}}
readers:
  - {{name: portal-3, type: llrp, host: 127.0.0.1, port: {reader_port}, antennas: [1, 2, 3, 4]}}
locations:
  - name: dock-3
    read_points: [{{reader: portal-3}}]
pipeline: {{depart_after: 1s}}
outbox: {{path: {outbox}}}
"""
    )
    return path


class StderrLog:
    """Collects a child's stderr lines as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stderr is not None
        stream = process.stderr
        self._thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self._thread.start()

    def has(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def join(self) -> str:
        self._thread.join(10)
        return "".join(self.lines)


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_full_disk_keeps_the_gateway_alive_and_loses_nothing(
    tmp_path: Path, small_disk: Path, mosquitto: Broker, subscribe: type[Subscriber]
) -> None:
    sub = subscribe("dockgate/gw-test/events/#")
    sim, port = start_simulator(QUICK, "--loop")
    gateway = spawn("run", "--config", str(config(tmp_path, mosquitto, port, small_disk / "outbox.db")))
    log = StderrLog(gateway)
    try:
        wait_until(lambda: len(sub.events()) >= 4, 30, "first events")
        filler = fill(small_disk)
        wait_until(lambda: log.has("event=outbox_failing"), 60, "the outbox alarm")
        assert gateway.poll() is None, "the gateway died on a full disk"
        held_before = len(sub.events())
        filler.unlink()  # space returns
        wait_until(lambda: log.has("event=outbox_recovered"), 30, "recovery")
        wait_until(lambda: len(sub.events()) > held_before + 4, 30, "events flowing again")
    finally:
        code, _ = stop(gateway)
        stop(sim)
    text = log.join()
    assert code == 0, text
    seqs = sorted({e["seq"] for e in sub.events(everything=True)})
    assert seqs == list(range(1, seqs[-1] + 1)), "a seq is missing: an event was lost"
    assert "stopped_with_unstored_events" not in text


def test_corrupt_outbox_at_start_is_moved_aside_without_a_crash_loop(
    tmp_path: Path, mosquitto: Broker, subscribe: type[Subscriber]
) -> None:
    outbox = tmp_path / "outbox.db"
    outbox.write_bytes(b"SQLite format 3\0" + os.urandom(3000))  # a header, then garbage
    sub = subscribe("dockgate/gw-test/events/#")
    sim, port = start_simulator(QUICK)
    gateway = spawn("run", "--config", str(config(tmp_path, mosquitto, port, outbox)))
    try:
        wait_until(lambda: len(sub.events()) >= 14, 30, "the scenario's events")
    finally:
        code, err = stop(gateway)
        stop(sim)
    assert code == 0, err
    assert "event=corrupt_outbox_moved_aside" in err
    assert list(tmp_path.glob("outbox.db.corrupt-*")), "the damaged file is kept for inspection"
