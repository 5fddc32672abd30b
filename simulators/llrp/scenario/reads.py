"""A scenario as individual tag reads, in scenario-time order, one window at a time.

Each tag is read on each antenna of a visit on a regular grid (``read_rate`` per second) with a random
phase; reads in a gap are skipped, others may be dropped, get gaussian RSSI noise, and are not produced
below ``min_rssi``. Every track has its own seeded RNG, so the reads are the same whatever the windows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulators.llrp.scenario.model import Scenario, StaticTag, Visit, interpolate


@dataclass(frozen=True, slots=True)
class TagRead:
    t_s: float  # scenario time of the read
    epc: bytes
    antenna: int
    rssi: int  # dBm


class _Track:
    """One tag on one antenna during one visit: reads on a grid with a random phase."""

    __slots__ = (
        "antenna",
        "end",
        "epc",
        "gaps",
        "knots",
        "next_k",
        "period",
        "phase",
        "rng",
        "rssi",
        "start",
    )

    def __init__(
        self,
        epc: bytes,
        antenna: int,
        rssi: float,
        start: float,
        end: float,
        rate: float,
        rng: random.Random,
        knots: tuple[float, ...] | None = None,
        gaps: tuple[tuple[float, float], ...] = (),
    ) -> None:
        self.epc = epc
        self.antenna = antenna
        self.rssi = rssi
        self.knots = knots if knots and len(knots) > 1 else None
        self.gaps = gaps
        self.period = 1.0 / rate
        self.phase = start + rng.random() * self.period
        self.start = start
        self.end = end
        self.next_k = 0
        self.rng = rng

    def mean_rssi(self, t: float) -> float:
        if self.knots is None:
            return self.rssi
        return interpolate(self.knots, self.start, self.end, t)

    def in_gap(self, t: float) -> bool:
        return any(g0 <= t < g1 for g0, g1 in self.gaps)


class ReadStream:
    """Produces the reads of a scenario in scenario-time order, one window at a time.

    Every track has its own seeded RNG consumed in read order, so the reads do not depend on how
    time is sliced into windows: runs repeat. Reads in a gap consume no randomness; a read whose
    rounded RSSI is below `min_rssi` is consumed like a dropped one.
    """

    def __init__(self, scenario: Scenario, antennas: frozenset[int] | None = None) -> None:
        self.scenario = scenario
        tracks: list[_Track] = []
        n = 0
        # Seeds follow the order pallets -> visits -> tags -> antennas, then static tags, so adding
        # static tags leaves the reads of existing pallets unchanged.
        sources: list[tuple[tuple[str, ...], float, float, float | None, Visit | StaticTag]] = [
            (pallet.epcs, visit.start_s, visit.end_s, visit.read_rate, visit)
            for pallet in scenario.pallets
            for visit in pallet.visits
        ]
        end = scenario.duration_s
        sources.extend((s.epcs, 0.0, end, s.read_rate, s) for s in scenario.static_tags)
        for epcs, start, stop, rate, source in sources:
            for epc in epcs:
                for antenna, rssi in sorted(source.antennas.items()):
                    n += 1
                    if antennas and antenna not in antennas:
                        continue
                    rng = random.Random(scenario.seed * 1_000_003 + n)
                    tracks.append(
                        _Track(
                            bytes.fromhex(epc),
                            antenna,
                            rssi,
                            start,
                            stop,
                            rate or scenario.read_rate,
                            rng,
                            source.profiles.get(antenna),
                            source.gaps,
                        )
                    )
        tracks.sort(key=lambda t: t.start)
        self._pending = tracks
        self._next = 0
        self._active: list[_Track] = []

    def reads_until(self, t_end: float) -> list[TagRead]:
        """All reads with scenario time < t_end not returned before, sorted by time."""
        while self._next < len(self._pending) and self._pending[self._next].start < t_end:
            self._active.append(self._pending[self._next])
            self._next += 1
        out: list[TagRead] = []
        noise = self.scenario.rssi_noise_db
        drop = self.scenario.drop_rate
        floor = self.scenario.min_rssi
        keep: list[_Track] = []
        for tr in self._active:
            rng = tr.rng
            limit = min(t_end, tr.end)
            gaps = tr.gaps
            while True:
                t = tr.phase + tr.next_k * tr.period
                if t >= limit:
                    break
                tr.next_k += 1
                if gaps and tr.in_gap(t):
                    continue
                dropped = rng.random() < drop if drop else False
                rssi = tr.mean_rssi(t) + (rng.gauss(0.0, noise) if noise else 0.0)
                value = max(-128, min(127, round(rssi)))
                if not dropped and (floor is None or value >= floor):
                    out.append(TagRead(t, tr.epc, tr.antenna, value))
            if tr.phase + tr.next_k * tr.period < tr.end:
                keep.append(tr)
        self._active = keep
        out.sort(key=lambda r: r.t_s)
        return out

    @property
    def exhausted(self) -> bool:
        return self._next >= len(self._pending) and not self._active
