"""Scenarios: which tags pass which antennas when, loaded from YAML, with their ground truth.

A scenario is pallets of tags; each pallet has visits (a time window and the antennas that see it,
with a mean RSSI per antenna, constant or a piecewise-linear profile over the visit). Static tags
are seen for the whole scenario. `ReadStream` turns a scenario into individual tag reads.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from simulators.llrp.durations import ScenarioError as ScenarioError  # re-exported: callers catch it here
from simulators.llrp.durations import parse_duration as parse_duration
from simulators.llrp.epc import EPCError, sgtin96, sscc96
from simulators.llrp.faults import Fault, GpiPulse, faults_from_list, gpi_from_list


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
        return _interpolate(knots, self.start_s, self.end_s, t_s)


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


def _interpolate(knots: tuple[float, ...], start: float, end: float, t: float) -> float:
    u = (t - start) / (end - start) * (len(knots) - 1)
    if u <= 0.0:
        return knots[0]
    i = int(u)
    if i >= len(knots) - 1:
        return knots[-1]
    return knots[i] + (knots[i + 1] - knots[i]) * (u - i)


# ---- loading ---------------------------------------------------------------------------------


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


_TOP_FIELDS = {
    "name",
    "description",
    "category",
    "read_rate",
    "rssi_noise_db",
    "drop_rate",
    "min_rssi",
    "seed",
    "duration",
    "site",
    "pallets",
    "static_tags",
    "faults",
    "gpi",
}


def scenario_from_dict(data: object, default_name: str = "scenario") -> Scenario:
    top = _mapping(data, "scenario", _TOP_FIELDS)
    name = _string(top.get("name", default_name), "name")
    category = top.get("category")
    if category not in (None, "clean", "noisy"):
        raise ScenarioError(f"category: expected clean or noisy, got {category!r}")
    site = top.get("site")
    if site is not None and not isinstance(site, dict):
        raise ScenarioError(f"site: expected a mapping (the gateway config: readers, locations), got {site!r}")
    duration = parse_duration(top["duration"], "duration") if "duration" in top else None
    if duration is not None and duration <= 0:
        raise ScenarioError(f"duration: must be > 0, got {top['duration']!r}")
    static_raw = top.get("static_tags", [])
    if not isinstance(static_raw, list):
        raise ScenarioError("static_tags: expected a list of static tags")
    pallets_raw = top.get("pallets")
    if pallets_raw is None and static_raw:
        pallets_raw = []
    if not isinstance(pallets_raw, list) or (not pallets_raw and not static_raw):
        raise ScenarioError("pallets: expected a non-empty list of pallets")
    pallets = tuple(_pallet(p, f"pallets[{i}]", duration) for i, p in enumerate(pallets_raw))
    if duration is None and not pallets:
        raise ScenarioError("duration: required when there are static tags but no pallets")
    end = duration if duration is not None else max(v.end_s for p in pallets for v in p.visits)
    static_tags = tuple(_static_tag(t, f"static_tags[{i}]", end, f"static-{i + 1}") for i, t in enumerate(static_raw))
    owners = [(f"pallets[{i}].tags", p.name, p.epcs) for i, p in enumerate(pallets)]
    owners += [(f"static_tags[{i}]", t.name, t.epcs) for i, t in enumerate(static_tags)]
    seen: dict[str, str] = {}
    for field_path, owner, epcs in owners:
        for epc in epcs:
            if epc in seen:
                raise ScenarioError(f"{field_path}: EPC {epc} is also on {seen[epc]}")
            seen[epc] = owner
    min_rssi = top.get("min_rssi")
    faults = faults_from_list(top["faults"]) if "faults" in top else ()
    gpi = gpi_from_list(top["gpi"]) if "gpi" in top else ()
    return Scenario(
        name=name,
        description=_string(top.get("description", ""), "description"),
        pallets=pallets,
        read_rate=_rate(top.get("read_rate", 8.0), "read_rate"),
        rssi_noise_db=_number(top.get("rssi_noise_db", 0.0), "rssi_noise_db", low=0.0, high=40.0),
        drop_rate=_number(top.get("drop_rate", 0.0), "drop_rate", low=0.0, high=1.0, high_open=True),
        seed=int(_number(top.get("seed", 1), "seed", integer=True)),
        min_rssi=None if min_rssi is None else _number(min_rssi, "min_rssi", low=-128.0, high=127.0),
        duration=duration,
        static_tags=static_tags,
        category=category,
        site=site,
        faults=faults,
        gpi=gpi,
    )


def _rate(raw: object, path: str) -> float:
    return _number(raw, path, low=0.0, low_open=True, high=10_000.0)


def _pallet(raw: object, path: str, duration: float | None) -> Pallet:
    m = _mapping(raw, path, {"name", "location", "tags", "visits"})
    for key in ("name", "location", "tags", "visits"):
        if key not in m:
            raise ScenarioError(f"{path}.{key}: required")
    epcs = _tags(m["tags"], f"{path}.tags")
    visits = m["visits"]
    if not isinstance(visits, list) or not visits:
        raise ScenarioError(f"{path}.visits: expected a non-empty list")
    return Pallet(
        name=_string(m["name"], f"{path}.name"),
        location=_string(m["location"], f"{path}.location"),
        epcs=epcs,
        visits=tuple(_visit(v, f"{path}.visits[{i}]", duration) for i, v in enumerate(visits)),
    )


def _tags(tags: object, path: str) -> tuple[str, ...]:
    if not isinstance(tags, list) or not tags:
        raise ScenarioError(f"{path}: expected a non-empty list")
    epcs: list[str] = []
    for i, tag in enumerate(tags):
        epcs.extend(_tag(tag, f"{path}[{i}]"))
    if len(set(epcs)) != len(epcs):
        raise ScenarioError(f"{path}: the same EPC is listed twice")
    return tuple(epcs)


def _static_tag(raw: object, path: str, end: float, default_name: str) -> StaticTag:
    allowed = {"name", "location", "epc", "sgtin", "sscc", "antennas", "gaps", "read_rate"}
    m = _mapping(raw, path, allowed)
    for key in ("location", "antennas"):
        if key not in m:
            raise ScenarioError(f"{path}.{key}: required")
    kinds = [k for k in ("epc", "sgtin", "sscc") if k in m]
    if len(kinds) != 1:
        raise ScenarioError(f"{path}: expected exactly one of epc, sgtin, sscc")
    epcs = tuple(_tag({kinds[0]: m[kinds[0]]}, path))
    antennas, profiles = _antennas(m["antennas"], f"{path}.antennas")
    return StaticTag(
        name=_string(m.get("name", default_name), f"{path}.name"),
        location=_string(m["location"], f"{path}.location"),
        epcs=epcs,
        antennas=antennas,
        profiles=profiles,
        gaps=_gaps(m.get("gaps", []), f"{path}.gaps", 0.0, end),
        read_rate=_rate(m["read_rate"], f"{path}.read_rate") if "read_rate" in m else None,
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
                raise ScenarioError(f"{path}.epc: expected hex, a multiple of 4 digits (16-bit words), got {spec!r}")
            return [epc]
        if kind == "sgtin":
            s = _mapping(spec, f"{path}.sgtin", {"company_prefix", "item_reference", "serial", "count", "filter"})
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


def _visit(raw: object, path: str, duration: float | None) -> Visit:
    allowed = {"start", "end", "antennas", "direction", "gaps", "stray", "read_rate"}
    m = _mapping(raw, path, allowed)
    for key in ("start", "end", "antennas"):
        if key not in m:
            raise ScenarioError(f"{path}.{key}: required")
    start = parse_duration(m["start"], f"{path}.start")
    if m["end"] == "open":
        if duration is None:
            raise ScenarioError(f"{path}.end: 'open' needs a top-level duration")
        end = duration
    else:
        end = parse_duration(m["end"], f"{path}.end")
    if end <= start:
        raise ScenarioError(f"{path}.end: must be after start ({m['end']!r} <= {m['start']!r})")
    if duration is not None and end > duration:
        raise ScenarioError(f"{path}.end: after the scenario duration ({end:g}s > {duration:g}s)")
    antennas, profiles = _antennas(m["antennas"], f"{path}.antennas")
    direction = m.get("direction")
    if direction not in (None, "in", "out"):
        raise ScenarioError(f"{path}.direction: expected in or out, got {direction!r}")
    stray = m.get("stray", False)
    if not isinstance(stray, bool):
        raise ScenarioError(f"{path}.stray: expected true or false, got {stray!r}")
    if stray and direction is not None:
        raise ScenarioError(f"{path}.direction: a stray visit is not a true visit and has no direction")
    return Visit(
        start,
        end,
        antennas,
        direction,
        profiles=profiles,
        gaps=_gaps(m.get("gaps", []), f"{path}.gaps", start, end),
        stray=stray,
        open_end=duration is not None and end == duration,
        read_rate=_rate(m["read_rate"], f"{path}.read_rate") if "read_rate" in m else None,
    )


def _antennas(raw: object, path: str) -> tuple[dict[int, float], dict[int, tuple[float, ...]]]:
    """Antenna id -> constant mean RSSI or a list of knots: (peak RSSI per antenna, profiles)."""
    if not isinstance(raw, dict) or not raw:
        raise ScenarioError(
            f"{path}: expected a mapping of antenna id -> mean RSSI dBm or a profile list, "
            "e.g. {1: -55, 3: [-75, -50, -70]}"
        )
    peaks: dict[int, float] = {}
    profiles: dict[int, tuple[float, ...]] = {}
    for key, rssi in raw.items():
        if isinstance(key, bool) or not isinstance(key, int) or not 1 <= key <= 65535:
            raise ScenarioError(f"{path}: antenna id must be an integer 1-65535, got {key!r}")
        if isinstance(rssi, list):
            if len(rssi) < 2:
                raise ScenarioError(f"{path}[{key}]: a profile needs at least 2 RSSI values (start, end), got {rssi!r}")
            knots = tuple(_number(v, f"{path}[{key}][{i}]", low=-128.0, high=127.0) for i, v in enumerate(rssi))
            profiles[key] = knots
            peaks[key] = max(knots)
        else:
            peaks[key] = _number(rssi, f"{path}[{key}]", low=-128.0, high=127.0)
    return peaks, profiles


def _gaps(raw: object, path: str, start: float, end: float) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, list):
        raise ScenarioError(f"{path}: expected a list like [{{start: 3s, end: 4.2s}}]")
    gaps: list[tuple[float, float]] = []
    for i, item in enumerate(raw):
        m = _mapping(item, f"{path}[{i}]", {"start", "end"})
        for key in ("start", "end"):
            if key not in m:
                raise ScenarioError(f"{path}[{i}].{key}: required")
        g0 = parse_duration(m["start"], f"{path}[{i}].start")
        g1 = parse_duration(m["end"], f"{path}[{i}].end")
        if g1 <= g0:
            raise ScenarioError(f"{path}[{i}].end: must be after start ({m['end']!r} <= {m['start']!r})")
        if g0 < start or g1 > end:
            raise ScenarioError(
                f"{path}[{i}]: must lie within the visit {start:g}s-{end:g}s "
                "(gap times are scenario times, not relative to the visit)"
            )
        gaps.append((g0, g1))
    return tuple(sorted(gaps))


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
        return _interpolate(self.knots, self.start, self.end, t)

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
