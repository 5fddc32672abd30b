"""What happens to the reader on a schedule: connection faults, antennas unplugged and plugged back, GPI
pulses. Times count from the moment the first client connects, and each event happens once, so a client
that reconnects after a fault gets normal service and a test can see it recover.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from simulators.llrp.faults import Fault, GpiPulse


@dataclass(frozen=True)
class FieldEvent:
    at_s: float
    kind: str  # drop, silent, garbage, antenna-off, antenna-on, gpi-on, gpi-off
    number: int = 0  # antenna or GPI port


class FieldSchedule:
    """The events still to come, in time order. A GPI pulse is two events: the port goes high, then low."""

    def __init__(self, faults: Sequence[Fault], pulses: Sequence[GpiPulse]) -> None:
        events = [FieldEvent(x.after_s, x.kind, x.antenna) for x in faults]
        for pulse in pulses:
            events += [
                FieldEvent(pulse.at_s, "gpi-on", pulse.port),
                FieldEvent(pulse.at_s + pulse.duration_s, "gpi-off", pulse.port),
            ]
        self._events = sorted(events, key=lambda x: x.at_s)  # consumed from the front
        self._t0: float | None = None  # when the first client connected

    def __len__(self) -> int:
        return len(self._events)

    def client_connected(self, now: float) -> None:
        """Start the clock at the first connection; later ones leave it running."""
        if self._t0 is None:
            self._t0 = now

    def due(self, now: float) -> Iterator[FieldEvent]:
        """The events due at ``now``, each taken off the schedule as it is handed out: one that stops the
        caller (a dropped connection) leaves the later ones for the next client."""
        events = self._events
        while events and self._t0 is not None and now - self._t0 >= events[0].at_s:
            yield events.pop(0)
