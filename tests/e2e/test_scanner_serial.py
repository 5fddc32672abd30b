"""The serial scanner driver on real ptys (the simulator, with unplug and replug) and on ``loop://``."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from drivers import create_driver
from drivers.scanners.serial_port import SerialScannerDriver
from drivers.scanners.settings import SerialScannerSettings
from gateway.domain.model import ScanRead, TagRead
from simulators.scanner.pty import PtyScanner
from tests.conftest import wait_until


class Sink:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.scans: list[ScanRead] = []
        self.states: list[tuple[str, str]] = []

    def reads(self, batch: list[TagRead]) -> None:
        assert all(isinstance(r, ScanRead) for r in batch)
        with self.lock:
            self.scans += [r for r in batch if isinstance(r, ScanRead)]

    def status(self, reader: str, state: str, detail: str, extra: Any = None) -> None:
        with self.lock:
            self.states.append((state, detail))

    def texts(self) -> list[str]:
        with self.lock:
            return [s.text for s in self.scans]

    def state_names(self) -> list[str]:
        with self.lock:
            return [s for s, _ in self.states]


def settings(port: str, **extra: Any) -> SerialScannerSettings:
    return SerialScannerSettings.model_validate(
        {"name": "scanner-1", "type": "serial", "port": port, "reconnect_delay_max": 0.3, **extra}
    )


def test_scans_over_a_pty_survive_unplug_and_replug(tmp_path: Path) -> None:
    sink = Sink()
    with PtyScanner(tmp_path / "scanner") as scanner:
        driver = create_driver(settings(scanner.path), sink.reads, sink.status)
        assert isinstance(driver, SerialScannerDriver)
        driver.start()
        try:
            wait_until(lambda: sink.state_names() == ["connecting", "connected"], 10, "connected")
            scanner.scan("]C100106141411234567897")
            scanner.write_raw(b"\x00\xff\xfenoise\r")
            scanner.scan("]C0PALLET-1")
            wait_until(lambda: sink.texts() == ["]C100106141411234567897", "]C0PALLET-1"], 10, "two scans")
            assert driver.framer.dropped == {"invalid_utf8": 1}

            scanner.unplug()
            wait_until(lambda: sink.state_names()[-1:] == ["disconnected"], 10, "disconnected")
            assert "vanished" in sink.states[-1][1]
            scanner.plug()
            wait_until(lambda: sink.state_names()[-1:] == ["connected"], 10, "connected again")
            scanner.scan("AFTER-REPLUG")
            wait_until(lambda: sink.texts()[-1:] == ["AFTER-REPLUG"], 10, "scan after replug")
        finally:
            driver.stop()
            driver.stop()  # idempotent
    assert sink.state_names() == ["connecting", "connected", "disconnected", "connected", "disconnected"]
    assert sink.states[-1] == ("disconnected", "stopped")


def test_a_scanner_absent_at_start_is_opened_when_it_appears(tmp_path: Path) -> None:
    sink = Sink()
    scanner = PtyScanner(tmp_path / "scanner", terminator=b"\r\n")
    driver = create_driver(settings(scanner.path, terminator="CRLF"), sink.reads, sink.status)
    driver.start()
    try:
        wait_until(lambda: "disconnected" in sink.state_names(), 10, "disconnected")
        assert "cannot open" in sink.states[-1][1]
        scanner.plug()
        wait_until(lambda: sink.state_names()[-1:] == ["connected"], 10, "connected")
        scanner.scan("]E05901234123457")
        wait_until(lambda: sink.texts() == ["]E05901234123457"], 10, "scan")
    finally:
        driver.stop()
        scanner.unplug()


def test_stop_while_retrying_returns_promptly(tmp_path: Path) -> None:
    sink = Sink()
    driver = create_driver(settings(str(tmp_path / "never"), reconnect_delay_max=30), sink.reads, sink.status)
    driver.start()
    wait_until(lambda: "disconnected" in sink.state_names(), 10, "disconnected")
    driver.stop()
    assert sink.states[-1] == ("disconnected", "stopped")


@pytest.mark.parametrize(("terminator", "wire"), [("CR", b"\r"), ("LF", b"\n"), ("CRLF", b"\r\n"), ("\\x03", b"\x03")])
def test_loop_url_with_prefix_suffix_and_terminators(terminator: str, wire: bytes) -> None:
    sink = Sink()
    driver = SerialScannerDriver(
        settings("loop://", terminator=terminator, prefix="\\x02", suffix="!"), sink.reads, sink.status
    )
    driver.start()
    try:
        wait_until(lambda: "connected" in sink.state_names(), 10, "connected")
        port = driver._device
        assert port is not None
        port.write(b"\x02]d20180614141123458" + b"\x1d" + b"216789!" + wire + b"NEXT" + wire)
        wait_until(lambda: len(sink.texts()) == 2, 10, "scans")
        assert sink.texts() == ["]d20180614141123458\x1d216789", "NEXT"]
    finally:
        driver.stop()
