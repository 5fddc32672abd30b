"""Door arbitration: when neighbouring locations read the same tag, the one with the stronger evidence
keeps the read."""

from __future__ import annotations

import math
from collections import OrderedDict

from gateway.core.readpoints import Location
from gateway.domain.model import TagRead


class DoorArbiter:
    """Decides, read by read, which of neighbouring locations a tag belongs to.

    Evidence per (tag, location) is a read count weighted by signal strength (amplitude, so a read
    20 dB stronger weighs 10 times more) that decays with ``arbitration_window`` as its time constant.
    """

    def __init__(self, window: float) -> None:
        self._window = window
        self._evidence: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    def lead(self, read: TagRead, location: Location) -> float:
        """Add the read's evidence; ``location``'s evidence over the strongest neighbour's (inf: none)."""
        t = read.time
        window = self._window
        rssi = read.rssi if read.rssi is not None else -70.0
        weight = 10.0 ** ((rssi + 100.0) / 20.0)
        key = (read.epc, location.name)
        evidence = self._evidence.get(key)
        if evidence is None:
            evidence = self._evidence[key] = [weight, t]
        else:
            evidence[0] = evidence[0] * math.exp(-max(0.0, t - evidence[1]) / window) + weight
            evidence[1] = t
            self._evidence.move_to_end(key)
        mine = evidence[0]
        strongest = 0.0
        for neighbour in location.neighbours:
            other = self._evidence.get((read.epc, neighbour.name))
            if other is not None:
                strongest = max(strongest, other[0] * math.exp(-max(0.0, t - other[1]) / window))
        return mine / strongest if strongest else math.inf

    def tick(self, now: float) -> None:
        """Forget evidence that has decayed to nothing (older than ten windows)."""
        before = now - 10 * self._window
        evidence = self._evidence
        while evidence:
            key, (_, t) = next(iter(evidence.items()))
            if t > before:
                break
            del evidence[key]
