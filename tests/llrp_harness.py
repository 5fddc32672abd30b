"""An LLRP driver against the in-process simulator, collecting what the driver hands to the core."""

from __future__ import annotations

import threading
import time
from typing import Any

from drivers.llrp.driver import LLRPDriver
from drivers.llrp.settings import LLRPReaderSettings
from gateway.domain.model import ReaderException, TagRead
from simulators.llrp.scenario import Scenario, scenario_from_dict

EPC = "3034257BF7194E4000001A85"


def steady_scenario(read_rate: float = 10.0, antennas: tuple[int, ...] = (1, 2)) -> Scenario:
    """One tag seen on ``antennas`` for ten minutes: reads flow whenever inventory runs."""
    return scenario_from_dict(
        {
            "duration": "10m",
            "read_rate": read_rate,
            "static_tags": [{"epc": EPC, "antennas": dict.fromkeys(antennas, -50), "location": "dock-3"}],
        }
    )


class Collected:
    """What a driver handed over, with the monotonic time of each hand-over."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reads: list[tuple[float, TagRead]] = []
        self.statuses: list[tuple[float, str, str, dict[str, Any] | None]] = []
        self.exceptions: list[ReaderException] = []

    def on_reads(self, reads: list[TagRead]) -> None:
        now = time.monotonic()
        with self.lock:
            self.reads.extend((now, r) for r in reads)

    def on_status(self, reader: str, state: str, detail: str, extra: dict[str, Any] | None = None) -> None:
        with self.lock:
            self.statuses.append((time.monotonic(), state, detail, extra))

    def on_exception(self, exc: ReaderException) -> None:
        with self.lock:
            self.exceptions.append(exc)

    def reads_after(self, t: float) -> int:
        with self.lock:
            return sum(1 for when, _ in self.reads if when > t)

    def last_status(self) -> tuple[float, str, str, dict[str, Any] | None] | None:
        with self.lock:
            return self.statuses[-1] if self.statuses else None

    def status_seen(self, state: str, text: str = "") -> bool:
        with self.lock:
            return any(s == state and text in d for _, s, d, _ in self.statuses)


def make_driver(port: int, collected: Collected, **overrides: Any) -> LLRPDriver:
    fields: dict[str, Any] = {
        "name": "portal",
        "type": "llrp",
        "host": "127.0.0.1",
        "port": port,
        "antennas": [1, 2],
        "keepalive": 0.5,
        "reconnect_delay_min": 0.2,
        "reconnect_delay_max": 1.0,
        "response_timeout": 3.0,
        "report_timeout": 0.1,
    }
    fields.update(overrides)
    driver = LLRPDriver(LLRPReaderSettings(**fields), collected.on_reads, collected.on_status)
    driver.on_exception = collected.on_exception
    return driver
