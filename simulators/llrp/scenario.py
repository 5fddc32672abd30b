"""Scenarios: which tags pass which antennas when, loaded from YAML, with their ground truth.

A scenario is pallets of tags; each pallet has visits (a time window and the antennas that see it,
with a mean RSSI per antenna). `ReadStream` turns a scenario into individual tag reads.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from simulators.llrp.epc import EPCError, sgtin96, sscc96


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the field path."""


@dataclass(frozen=True)
class Visit:
    start_s: float
    end_s: float
    antennas: Mapping[int, float]  # antenna id -> mean peak RSSI (dBm) while visible
    direction: str | None = None


@dataclass(frozen=True)
class Pallet:
    name: str
    location: str
    epcs: tuple[str, ...]  # uppercase hex
    visits: tuple[Visit, ...]


@dataclass(frozen=True)
class TrueVisit:
    epc: str
    pallet: str
    location: str
    start_s: float
    end_s: float
    direction: str | None


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    pallets: tuple[Pallet, ...]
    read_rate: float = 8.0  # reads per second per tag per antenna while visible
    rssi_noise_db: float = 0.0
    drop_rate: float = 0.0  # probability that a read is lost
    seed: int = 1

    @property
    def duration_s(self) -> float:
        return max((v.end_s for p in self.pallets for v in p.visits), default=0.0)

    def truth(self) -> list[TrueVisit]:
        rows = [
            TrueVisit(epc, p.name, p.location, v.start_s, v.end_s, v.direction)
            for p in self.pallets
            for v in p.visits
            for epc in p.epcs
        ]
        return sorted(rows, key=lambda r: (r.start_s, r.pallet, r.epc))

    def antennas_used(self) -> set[int]:
        return {a for p in self.pallets for v in p.visits for a in v.antennas}


# ---- loading ---------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


def parse_duration(value: object, path: str = "duration") -> float:
    """`250ms`, `5s`, `2m`, `1.5` or a number: seconds as a float."""
    if isinstance(value, bool):
        raise ScenarioError(f"{path}: expected a duration like 250ms, 5s, 2m or seconds, got {value!r}")
    if isinstance(value, int | float):
        if value < 0 or not math.isfinite(value):
            raise ScenarioError(f"{path}: must be a finite duration >= 0, got {value!r}")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNITS[match.group(2)]
    raise ScenarioError(f"{path}: expected a duration like 250ms, 5s, 2m or seconds, got {value!r}")


def default_scenario_path() -> Path:
    return Path(str(resources.files("simulators.llrp") / "scenarios" / "default.yaml"))


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read scenario file: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    return scenario_from_dict(data, default_name=path.stem)


def scenario_from_dict(data: object, default_name: str = "scenario") -> Scenario:
    top = _mapping(
        data,
        "scenario",
        {"name", "description", "read_rate", "rssi_noise_db", "drop_rate", "seed", "pallets"},
    )
    name = _string(top.get("name", default_name), "name")
    pallets_raw = top.get("pallets")
    if not isinstance(pallets_raw, list) or not pallets_raw:
        raise ScenarioError("pallets: expected a non-empty list of pallets")
    pallets = tuple(_pallet(p, f"pallets[{i}]") for i, p in enumerate(pallets_raw))
    seen: dict[str, str] = {}
    for i, pallet in enumerate(pallets):
        for epc in pallet.epcs:
            if epc in seen:
                raise ScenarioError(f"pallets[{i}].tags: EPC {epc} is also on {seen[epc]}")
            seen[epc] = pallet.name
    return Scenario(
        name=name,
        description=_string(top.get("description", ""), "description"),
        pallets=pallets,
        read_rate=_number(top.get("read_rate", 8.0), "read_rate", low=0.0, low_open=True, high=10_000.0),
        rssi_noise_db=_number(top.get("rssi_noise_db", 0.0), "rssi_noise_db", low=0.0, high=40.0),
        drop_rate=_number(top.get("drop_rate", 0.0), "drop_rate", low=0.0, high=1.0, high_open=True),
        seed=int(_number(top.get("seed", 1), "seed", integer=True)),
    )


def _pallet(raw: object, path: str) -> Pallet:
    m = _mapping(raw, path, {"name", "location", "tags", "visits"})
    for key in ("name", "location", "tags", "visits"):
        if key not in m:
            raise ScenarioError(f"{path}.{key}: required")
    tags = m["tags"]
    if not isinstance(tags, list) or not tags:
        raise ScenarioError(f"{path}.tags: expected a non-empty list")
    epcs: list[str] = []
    for i, tag in enumerate(tags):
        epcs.extend(_tag(tag, f"{path}.tags[{i}]"))
    if len(set(epcs)) != len(epcs):
        raise ScenarioError(f"{path}.tags: the same EPC is listed twice")
    visits = m["visits"]
    if not isinstance(visits, list) or not visits:
        raise ScenarioError(f"{path}.visits: expected a non-empty list")
    return Pallet(
        name=_string(m["name"], f"{path}.name"),
        location=_string(m["location"], f"{path}.location"),
        epcs=tuple(epcs),
        visits=tuple(_visit(v, f"{path}.visits[{i}]") for i, v in enumerate(visits)),
    )


def _tag(raw: object, path: str) -> list[str]:
    m = _mapping(raw, path, {"sgtin", "sscc", "epc"})
    if len(m) != 1:
        raise ScenarioError(f"{path}: expected exactly one of sgtin, sscc, epc")
    kind, spec = next(iter(m.items()))
    try:
        if kind == "epc":
            if not isinstance(spec, str):
                raise ScenarioError(f"{path}.epc: expected a quoted hex string, got {spec!r}")
            epc = spec.strip().upper()
            if not re.fullmatch(r"(?:[0-9A-F]{4}){1,31}", epc):
                raise ScenarioError(
                    f"{path}.epc: expected hex, a multiple of 4 digits (16-bit words), got {spec!r}"
                )
            return [epc]
        if kind == "sgtin":
            s = _mapping(
                spec, f"{path}.sgtin", {"company_prefix", "item_reference", "serial", "count", "filter"}
            )
            serial = int(_number(s.get("serial", 1), f"{path}.sgtin.serial", low=0, integer=True))
            count = int(_number(s.get("count", 1), f"{path}.sgtin.count", low=1, high=100_000, integer=True))
            filt = int(_number(s.get("filter", 1), f"{path}.sgtin.filter", low=0, high=7, integer=True))
            cp = _digits(s.get("company_prefix"), f"{path}.sgtin.company_prefix")
            item = _digits(s.get("item_reference"), f"{path}.sgtin.item_reference")
            return [sgtin96(cp, item, serial + k, filt) for k in range(count)]
        s = _mapping(spec, f"{path}.sscc", {"company_prefix", "serial_reference", "filter"})
        filt = int(_number(s.get("filter", 0), f"{path}.sscc.filter", low=0, high=7, integer=True))
        cp = _digits(s.get("company_prefix"), f"{path}.sscc.company_prefix")
        ref = _digits(s.get("serial_reference"), f"{path}.sscc.serial_reference")
        return [sscc96(cp, ref, filt)]
    except EPCError as exc:
        raise ScenarioError(f"{path}.{kind}: {exc}") from exc


def _visit(raw: object, path: str) -> Visit:
    m = _mapping(raw, path, {"start", "end", "antennas", "direction"})
    for key in ("start", "end", "antennas"):
        if key not in m:
            raise ScenarioError(f"{path}.{key}: required")
    start = parse_duration(m["start"], f"{path}.start")
    end = parse_duration(m["end"], f"{path}.end")
    if end <= start:
        raise ScenarioError(f"{path}.end: must be after start ({m['end']!r} <= {m['start']!r})")
    ants_raw = m["antennas"]
    if not isinstance(ants_raw, dict) or not ants_raw:
        raise ScenarioError(
            f"{path}.antennas: expected a mapping of antenna id -> mean RSSI dBm, e.g. {{1: -55}}"
        )
    antennas: dict[int, float] = {}
    for key, rssi in ants_raw.items():
        if isinstance(key, bool) or not isinstance(key, int) or not 1 <= key <= 65535:
            raise ScenarioError(f"{path}.antennas: antenna id must be an integer 1-65535, got {key!r}")
        antennas[key] = _number(rssi, f"{path}.antennas[{key}]", low=-128.0, high=127.0)
    direction = m.get("direction")
    if direction not in (None, "in", "out"):
        raise ScenarioError(f"{path}.direction: expected in or out, got {direction!r}")
    return Visit(start, end, antennas, direction)


def _mapping(raw: object, path: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: expected a mapping, got {type(raw).__name__}")
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise ScenarioError(f"{path}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    return raw


def _string(raw: object, path: str) -> str:
    if not isinstance(raw, str):
        raise ScenarioError(f"{path}: expected a string, got {raw!r}")
    return raw


def _digits(raw: object, path: str) -> str:
    if not isinstance(raw, str) or not raw.isdigit():
        raise ScenarioError(f"{path}: expected a quoted string of digits (leading zeros matter), got {raw!r}")
    return raw


def _number(
    raw: object,
    path: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or (integer and not isinstance(raw, int)):
        kind = "an integer" if integer else "a number"
        raise ScenarioError(f"{path}: expected {kind}, got {raw!r}")
    value = float(raw)
    if (low is not None and (value < low or (low_open and value == low))) or (
        high is not None and (value > high or (high_open and value == high))
    ):
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ScenarioError(f"{path}: must be in {lo}{low}, {high}{hi}, got {raw!r}")
    return value


# ---- reads -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TagRead:
    t_s: float  # scenario time of the read
    epc: bytes
    antenna: int
    rssi: int  # dBm


class _Track:
    """One tag on one antenna during one visit: reads on a grid with a random phase."""

    __slots__ = ("antenna", "end", "epc", "next_k", "period", "phase", "rng", "rssi", "start")

    def __init__(
        self, epc: bytes, antenna: int, rssi: float, start: float, end: float, rate: float, rng: random.Random
    ) -> None:
        self.epc = epc
        self.antenna = antenna
        self.rssi = rssi
        self.period = 1.0 / rate
        self.phase = start + rng.random() * self.period
        self.start = start
        self.end = end
        self.next_k = 0
        self.rng = rng


class ReadStream:
    """Produces the reads of a scenario in scenario-time order, one window at a time.

    Every track has its own seeded RNG consumed in read order, so the reads do not depend on how
    time is sliced into windows: runs repeat.
    """

    def __init__(self, scenario: Scenario, antennas: frozenset[int] | None = None) -> None:
        self.scenario = scenario
        tracks: list[_Track] = []
        n = 0
        for pallet in scenario.pallets:
            for visit in pallet.visits:
                for epc in pallet.epcs:
                    for antenna, rssi in sorted(visit.antennas.items()):
                        n += 1
                        if antennas and antenna not in antennas:
                            continue
                        rng = random.Random(scenario.seed * 1_000_003 + n)
                        tracks.append(
                            _Track(
                                bytes.fromhex(epc),
                                antenna,
                                rssi,
                                visit.start_s,
                                visit.end_s,
                                scenario.read_rate,
                                rng,
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
        keep: list[_Track] = []
        for tr in self._active:
            rng = tr.rng
            limit = min(t_end, tr.end)
            while True:
                t = tr.phase + tr.next_k * tr.period
                if t >= limit:
                    break
                tr.next_k += 1
                dropped = rng.random() < drop if drop else False
                rssi = tr.rssi + (rng.gauss(0.0, noise) if noise else 0.0)
                if not dropped:
                    out.append(TagRead(t, tr.epc, tr.antenna, max(-128, min(127, round(rssi)))))
            if tr.phase + tr.next_k * tr.period < tr.end:
                keep.append(tr)
        self._active = keep
        out.sort(key=lambda r: r.t_s)
        return out

    @property
    def exhausted(self) -> bool:
        return self._next >= len(self._pending) and not self._active
