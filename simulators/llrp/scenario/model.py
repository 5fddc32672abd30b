"""What a scenario is once loaded: pallets of tags and their visits to the antennas, static tags, faults
and GPI pulses, and the ground truth they imply.

These plain frozen dataclasses are what the simulator, the replay and the accuracy scorer work with. The
YAML file that describes them is checked by the models in ``file_format.py``; a scenario built in code
(``Visit(0.0, 1.0, {2: -55.0})``) needs no file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simulators.llrp.faults import Fault, GpiPulse


@dataclass(frozen=True)
class Visit:
    start_s: float
    end_s: float
    antennas: Mapping[int, float]  # antenna id -> mean RSSI (dBm); the profile's peak for a profile
    direction: str | None = None
    # antenna id -> RSSI knots evenly spaced from start_s to end_s; absent = constant `antennas[id]`
    profiles: Mapping[int, tuple[float, ...]] = field(default_factory=dict)
    gaps: tuple[tuple[float, float], ...] = ()  # absolute scenario times [start, end) without reads
    stray: bool = False  # reads from a neighbouring door: not a true visit
    open_end: bool = False  # still present when the scenario ends: no departure expected
    read_rate: float | None = None  # overrides the scenario's read_rate for this visit

    def rssi_at(self, antenna: int, t_s: float) -> float:
        """Mean RSSI on `antenna` at scenario time `t_s` (clamped to the visit)."""
        knots = self.profiles.get(antenna)
        if not knots or len(knots) == 1:
            return knots[0] if knots else self.antennas[antenna]
        return interpolate(knots, self.start_s, self.end_s, t_s)


@dataclass(frozen=True)
class Pallet:
    name: str
    location: str
    epcs: tuple[str, ...]  # uppercase hex
    visits: tuple[Visit, ...]


@dataclass(frozen=True)
class StaticTag:
    """Tags fixed in the read zone (a door frame, a fire extinguisher): seen from 0 to the duration."""

    name: str
    location: str
    epcs: tuple[str, ...]
    antennas: Mapping[int, float]
    profiles: Mapping[int, tuple[float, ...]] = field(default_factory=dict)
    gaps: tuple[tuple[float, float], ...] = ()
    read_rate: float | None = None


@dataclass(frozen=True)
class TrueVisit:
    epc: str
    pallet: str
    location: str
    start_s: float
    end_s: float
    direction: str | None
    static: bool = False
    open_end: bool = False


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    pallets: tuple[Pallet, ...]
    read_rate: float = 8.0  # reads per second per tag per antenna while visible
    rssi_noise_db: float = 0.0
    drop_rate: float = 0.0  # probability that a read is lost
    seed: int = 1
    min_rssi: float | None = None  # reads with a (noisy) RSSI below this are not produced
    duration: float | None = None  # explicit duration; None = the end of the last visit
    static_tags: tuple[StaticTag, ...] = ()
    category: str | None = None  # "clean" or "noisy"
    site: dict[str, Any] | None = None  # the gateway config the scenario is meant for, untouched
    shipments: tuple[dict[str, Any], ...] = ()  # shipment orders and their truth, untouched (the bench reads them)
    faults: tuple[Fault, ...] = ()  # connection faults and antenna events (simulators/llrp/faults.py)
    gpi: tuple[GpiPulse, ...] = ()  # GPI pulses

    @property
    def duration_s(self) -> float:
        if self.duration is not None:
            return self.duration
        return max((v.end_s for p in self.pallets for v in p.visits), default=0.0)

    def truth(self) -> list[TrueVisit]:
        """One row per tag per true visit: stray visits are left out, static tags span the scenario."""
        rows = [
            TrueVisit(epc, p.name, p.location, v.start_s, v.end_s, v.direction, open_end=v.open_end)
            for p in self.pallets
            for v in p.visits
            if not v.stray
            for epc in p.epcs
        ]
        end = self.duration_s
        rows.extend(
            TrueVisit(epc, s.name, s.location, 0.0, end, None, static=True, open_end=True)
            for s in self.static_tags
            for epc in s.epcs
        )
        return sorted(rows, key=lambda r: (r.start_s, r.pallet, r.epc))

    def antennas_used(self) -> set[int]:
        used = {a for p in self.pallets for v in p.visits for a in v.antennas}
        return used | {a for s in self.static_tags for a in s.antennas}


def interpolate(knots: tuple[float, ...], start: float, end: float, t: float) -> float:
    """The value at ``t`` of knots spread evenly from ``start`` to ``end``, linear between them, clamped."""
    u = (t - start) / (end - start) * (len(knots) - 1)
    if u <= 0.0:
        return knots[0]
    i = int(u)
    if i >= len(knots) - 1:
        return knots[-1]
    return knots[i] + (knots[i + 1] - knots[i]) * (u - i)
