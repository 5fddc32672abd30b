"""Scenarios generated from a physical model of dock doors, with the ground truth the model implies.

The hand-written scenarios of the library say what each antenna hears; here it follows from geometry:

- **Doors** in a row, ``door_spacing_m`` apart (x = 0, 4, 8 ... m). Each has four antennas on its frame,
  two facing outside (y = -0.6 m) and two inside (y = +0.6 m), at x = door +- 0.9 m, 1 m above the loads.
  An antenna hears a tag behind it ``front_back_db`` weaker (a smooth step over half a metre).
- **Loads** are pallets of ``cases`` tagged cases (and the pallet's SSCC label) that a forklift drives
  straight through their door at ``speed_mps``, in or out (seeded), one every ``gap_s`` over all doors in
  turn. The inner cases of a pallet (all but the outer ring of a 3x3 layer) are shadowed by
  ``shadow_db``.
- **Signal**: log-distance path loss, ``RSSI = p1m_dbm - 10 n log10(d / 1 m)``, sampled along the path
  as the visit's RSSI profile; the wall between doors takes ``wall_db`` off what a neighbouring door's
  antennas hear (those reads are a stray visit: not in the truth). Each read gets ``noise_db`` of
  gaussian noise, is lost with probability ``read_loss``, and is not produced below ``min_rssi``: so
  the read probability falls with the signal, as a reader's does.
- **Truth**: a tag's visit spans the time its mean RSSI at its own door's best antenna is above
  ``min_rssi``; the direction is the way the load moved.

``generate(DoorModel(...))`` gives a ``Scenario`` (the same for the same model and seed) that the replay,
the accuracy bench and the LLRP simulator take like any other.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Any

from simulators.llrp.epc import sgtin96, sscc96
from simulators.llrp.scenario.model import Pallet, Scenario, Visit

ANTENNA_Y = (-0.6, -0.6, 0.6, 0.6)  # per door: antennas 1-2 outside, 3-4 inside
ANTENNA_DX = (-0.9, 0.9, -0.9, 0.9)
HEIGHT_M = 1.0  # antennas above the loads' tags
KNOTS = 9  # RSSI profile samples along a visit


@dataclass(frozen=True)
class DoorModel:
    doors: int = 2
    door_spacing_m: float = 4.0
    wall_db: float = 14.0
    noise_db: float = 4.0
    read_loss: float = 0.2
    speed_mps: float = 1.5
    pallets: int = 12  # over all doors
    cases: int = 9  # tagged cases per pallet, plus its SSCC label
    gap_s: float = 2.5
    shadow_db: float = 6.0
    front_back_db: float = 8.0
    p1m_dbm: float = -45.0
    path_loss_n: float = 3.0
    min_rssi: float = -70.0
    read_rate: float = 8.0  # reads per second per tag per antenna, before losses
    seed: int = 1

    def label(self) -> str:
        return (
            f"wall {self.wall_db:g} dB, noise {self.noise_db:g} dB, loss {self.read_loss:.0%}, "
            f"{self.speed_mps:g} m/s, seed {self.seed}"
        )

    def with_(self, **changes: Any) -> DoorModel:
        return replace(self, **changes)


def generate(model: DoorModel) -> Scenario:
    rng = random.Random(model.seed)
    pallets: list[Pallet] = []
    for k in range(model.pallets):
        door = k % model.doors
        direction = rng.choice(("in", "out"))
        start = 1.0 + k * model.gap_s
        pallets += _load(model, k, door, direction, start)
    duration = max(v.end_s for p in pallets for v in p.visits) + 2.0
    return Scenario(
        name=f"physics-{model.doors}doors-{model.label().replace(', ', '-').replace(' ', '')}",
        description=f"generated (simulators/llrp/scenario/physics.py): {model.label()}",
        pallets=tuple(pallets),
        read_rate=model.read_rate,
        rssi_noise_db=model.noise_db,
        drop_rate=model.read_loss,
        seed=model.seed,
        min_rssi=model.min_rssi,
        duration=duration,
        category="physics",
        site=site(model),
    )


def site(model: DoorModel) -> dict[str, Any]:
    """The gateway config of the modelled doors: one reader with four antennas a door."""
    locations = []
    for door in range(model.doors):
        first = 4 * door + 1
        neighbours = [f"door-{d}" for d in (door - 1, door + 1) if 0 <= d < model.doors]
        locations.append(
            {
                "name": f"door-{door}",
                "neighbours": neighbours,
                "read_points": [
                    {"reader": "portal", "antennas": [first, first + 1], "side": "outside"},
                    {"reader": "portal", "antennas": [first + 2, first + 3], "side": "inside"},
                ],
            }
        )
    antennas = list(range(1, 4 * model.doors + 1))
    return {
        "readers": [{"name": "portal", "type": "llrp", "host": "127.0.0.1", "antennas": antennas}],
        "locations": locations,
    }


def _load(model: DoorModel, k: int, door: int, direction: str, start: float) -> list[Pallet]:
    """A pallet's tags as two groups (outer cases with the SSCC label, shadowed inner cases), each with
    its true visit at its door and a stray visit at each other door that hears it."""
    inner = [i for i in range(model.cases) if i % 9 == 4]  # the middle case of each 3x3 layer
    outer = [i for i in range(model.cases) if i not in inner]
    company = "0614141"
    epcs = {
        "outer": (*(sgtin96(company, f"8{k:05d}", i + 1) for i in outer), sscc96(company, f"{3_000_000_000 + k}")),
        "inner": tuple(sgtin96(company, f"8{k:05d}", i + 1) for i in inner),
    }
    out = []
    for part, shadow in (("outer", 0.0), ("inner", model.shadow_db)):
        if not epcs[part]:
            continue
        visits = _visits(model, door, direction, start, shadow)
        if visits:
            out.append(Pallet(f"p{k}-{part}", f"door-{door}", epcs[part], visits))
    return out


def _visits(model: DoorModel, door: int, direction: str, start: float, shadow: float) -> tuple[Visit, ...]:
    x0 = door * model.door_spacing_m
    own = [(x0 + ANTENNA_DX[j], ANTENNA_Y[j]) for j in range(4)]
    audible = [
        y / 20
        for y in range(-200, 201)  # along the path, every 5 cm over +-10 m of the door's centre
        if max(_rssi(model, x0 - ax, y / 20 - ay, ay) for ax, ay in own) - shadow >= model.min_rssi
    ]
    if not audible:
        return ()
    first, last = min(audible), max(audible)
    span = (last - first) / model.speed_mps

    def y_at(t: float) -> float:  # in: from outside (-y) to inside (+y); out: the other way
        moved = model.speed_mps * (t - start)
        return first + moved if direction == "in" else last - moved

    times = [start + span * i / (KNOTS - 1) for i in range(KNOTS)]
    visits = []
    for other in range(model.doors):
        loss = shadow + (0.0 if other == door else model.wall_db * abs(other - door))
        profiles = {}
        for j in range(4):
            antenna = 4 * other + j + 1
            ax, ay = other * model.door_spacing_m + ANTENNA_DX[j], ANTENNA_Y[j]
            knots = tuple(round(_rssi(model, x0 - ax, y_at(t) - ay, ay) - loss, 1) for t in times)
            if max(knots) >= model.min_rssi - 2 * model.noise_db:  # audible at all, with the noise
                profiles[antenna] = knots
        if not profiles:
            continue
        peaks = {a: max(k) for a, k in profiles.items()}
        if other == door:
            visits.append(Visit(start, start + span, peaks, direction, profiles))
        else:
            visits.append(Visit(start, start + span, peaks, None, profiles, stray=True))
    return tuple(visits)


def _rssi(model: DoorModel, dx: float, dy: float, antenna_y: float) -> float:
    """Mean RSSI of a tag ``dx``, ``dy`` from an antenna at ``antenna_y`` (outside < 0 < inside; each faces
    its side: a tag behind it is up to ``front_back_db`` weaker)."""
    distance = math.sqrt(dx * dx + dy * dy + HEIGHT_M * HEIGHT_M)
    behind = dy * (1.0 if antenna_y > 0 else -1.0) < 0
    back = model.front_back_db * (1.0 - math.exp(-abs(dy) / 0.5)) if behind else 0.0
    return model.p1m_dbm - 10 * model.path_loss_n * math.log10(distance) - back
