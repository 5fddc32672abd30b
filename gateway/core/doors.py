"""The doors' own signals, both ways: exceptions that readers raise at a door (a GPI window without a tag
read) become ``exception`` events, and stored events go back to the drivers that drive outputs there
(a light stack, a buzzer on GPO)."""

from __future__ import annotations

import queue
from collections.abc import Iterable, Sequence

from drivers.base import ReaderDriver
from gateway.config import Config
from gateway.domain.log import get_logger
from gateway.domain.model import LocationEvent, ReaderException

log = get_logger(__name__)


class DoorSignals:
    def __init__(self) -> None:
        self._exceptions: queue.SimpleQueue[ReaderException] = queue.SimpleQueue()

    def raise_exception(self, exc: ReaderException) -> None:
        """From drivers' threads (thread-safe, never blocks)."""
        self._exceptions.put(exc)

    def exception_events(self, config: Config, now: float) -> list[LocationEvent]:
        """The exceptions raised since the last turn, as events at their door."""
        out: list[LocationEvent] = []
        while True:
            try:
                exc = self._exceptions.get_nowait()
            except queue.Empty:
                return out
            location = exc.location or next(
                (loc.name for loc in config.locations for p in loc.read_points if p.reader == exc.reader), ""
            )
            log.warning("exception", reason=exc.reason, location=location, reader=exc.reader)
            out.append(
                LocationEvent(
                    type="exception",
                    time=now,
                    gateway=config.gateway.id,
                    location=location,
                    reader=exc.reader,
                    epc="",
                    antennas=[],
                    reads=0,
                    rssi_max=None,
                    first_seen=exc.extra.get("window_start", now),
                    last_seen=now,
                    reason=exc.reason,
                    extra={"epc": None, **{k: v for k, v in exc.extra.items() if k != "window_start"}},
                )
            )

    @staticmethod
    def signal(events: Sequence[LocationEvent], drivers: Iterable[ReaderDriver]) -> None:
        """Stored events to the drivers' outputs (GPO); a driver's ``on_event`` never blocks."""
        if not events:
            return
        drivers = list(drivers)
        for event in events:
            for driver in drivers:
                driver.on_event(event)
