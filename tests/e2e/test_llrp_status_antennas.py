"""A disconnected LLRP reader's retained status has no per-antenna state (docs/llrp.md, Reader status):
the driver's statuses go through the core's ReaderBoard, as in the gateway, and each retained payload is
checked, after a half-open connection and after a stop (issue 20, defect 5)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from drivers.llrp.driver import LLRPDriver
from drivers.llrp.settings import LLRPReaderSettings
from gateway.core.readers import ReaderBoard
from simulators.llrp.faults import parse_fault
from simulators.llrp.server import LLRPSimulator
from tests.conftest import wait_until
from tests.llrp_harness import steady_scenario

pytestmark = pytest.mark.timeout(60)


class Retained:
    """A ReaderBoard turned by a thread of its own, like the main loop; what it publishes, in order."""

    def __init__(self) -> None:
        self.board = ReaderBoard(["portal"], time.time)
        self.payloads: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="board", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.02):
            self.turn()

    def turn(self) -> None:
        self.board.update(True, lambda _reader, payload: self.payloads.append(json.loads(payload)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.turn()

    def last(self) -> dict[str, Any]:
        return self.payloads[-1]


def driver(port: int, retained: Retained) -> LLRPDriver:
    settings = LLRPReaderSettings(
        name="portal",
        type="llrp",
        host="127.0.0.1",
        port=port,
        antennas=[1, 2],
        keepalive=0.5,
        reconnect_delay_min=0.2,
        reconnect_delay_max=1.0,
        response_timeout=3.0,
        report_timeout=0.1,
    )
    return LLRPDriver(settings, lambda _reads: None, retained.board.report)


def connected_with_antennas(retained: Retained) -> bool:
    last = retained.payloads[-1] if retained.payloads else {}
    return last.get("state") == "connected" and last.get("antennas") == {"1": "connected", "2": "connected"}


def test_after_a_stop_the_retained_status_has_no_antenna_state() -> None:
    sim = LLRPSimulator(steady_scenario())
    sim.start()
    retained = Retained()
    d = driver(sim.port, retained)
    try:
        d.start()
        wait_until(lambda: connected_with_antennas(retained), 10, "connected, both antennas connected")
        d.stop()
    finally:
        retained.close()
        sim.stop()
    assert retained.last()["state"] == "disconnected" and retained.last()["detail"] == "stopped"
    assert "antennas" not in retained.last(), retained.last()


def test_after_a_half_open_connection_no_disconnected_status_has_antenna_state() -> None:
    sim = LLRPSimulator(steady_scenario(), faults=[parse_fault("silent-after=1s")])
    sim.start()
    retained = Retained()
    d = driver(sim.port, retained)
    try:
        d.start()
        wait_until(lambda: connected_with_antennas(retained), 10, "connected, both antennas connected")
        wait_until(
            lambda: any("half-open" in p["detail"] for p in retained.payloads), 10, "the half-open connection noticed"
        )
    finally:
        d.stop()
        retained.close()
        sim.stop()
    disconnected = [p for p in retained.payloads if p["state"] in ("disconnected", "connecting")]
    assert disconnected and not [p for p in disconnected if "antennas" in p], disconnected
