"""From raw tag reads to location events.

Plain classes over batches of reads with no clock of their own (the caller passes ``now``), so tests
run them on fake time and a replay gives the same events every time. Per read, in order:

1. read point: which location the (reader, antenna) watches, which side of the door it faces, and
   its minimum RSSI;
2. tag filters: the global ones, then the location's (include/exclude by EPC hex prefix or EPC URI
   pattern, an ignore list); the verdict is decided once per tag and location, then cached;
3. door arbitration: when neighbouring locations read the same tag within ``arbitration_window``,
   only the one with the stronger evidence (RSSI-weighted, decaying read count) keeps the read;
4. presence: one visit per (tag, location): ``arrived`` after ``arrive_min_reads`` within
   ``arrive_window``, ``departed`` after ``depart_after`` of silence (a shorter gap does not split a
   visit), with the dwell time and the direction of movement; a tag present without a break for
   ``static_after`` becomes ``static`` and is quiet until it has been gone for ``static_release``.

Every read that produces nothing is counted by reason in ``Pipeline.dropped``.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Iterator

from gateway.config import Config, FilterSettings, PipelineSettings
from gateway.identity import IdentityCache, UriPattern
from gateway.model import LocationEvent, TagRead

_OUTSIDE = 1
_INSIDE = 2
_SIDES = {None: 0, "outside": _OUTSIDE, "inside": _INSIDE}
_VERDICT_CACHE_MAX = 200_000


class TagFilter:
    """Include / exclude / ignore rules; ``reason(epc)`` says why a tag is dropped, or None."""

    def __init__(self, settings: FilterSettings, identity: IdentityCache) -> None:
        self._identity = identity
        self._include_prefixes = tuple(m for m in settings.include if not m.startswith("urn:"))
        self._include_patterns = [UriPattern(m) for m in settings.include if m.startswith("urn:")]
        self._exclude_prefixes = tuple(m for m in settings.exclude if not m.startswith("urn:"))
        self._exclude_patterns = [UriPattern(m) for m in settings.exclude if m.startswith("urn:")]
        self._ignore = frozenset(settings.ignore)
        self.active = bool(settings.include or settings.exclude or settings.ignore)

    def reason(self, epc: str) -> str | None:
        if epc in self._ignore:
            return "ignored"
        if self._exclude_prefixes and epc.startswith(self._exclude_prefixes):
            return "excluded"
        if self._exclude_patterns:
            uri = self._identity.uri(epc)
            if any(p.matches(uri) for p in self._exclude_patterns):
                return "excluded"
        if self._include_prefixes or self._include_patterns:
            if self._include_prefixes and epc.startswith(self._include_prefixes):
                return None
            if self._include_patterns:
                uri = self._identity.uri(epc)
                if any(p.matches(uri) for p in self._include_patterns):
                    return None
            return "not_included"
        return None


class Location:
    """A place where events happen, with its filters and its neighbours (resolved after construction)."""

    __slots__ = ("filter", "name", "neighbours")

    def __init__(self, name: str, tag_filter: TagFilter | None) -> None:
        self.name = name
        self.filter = tag_filter
        self.neighbours: tuple[Location, ...] = ()


class ReadPoint:
    """What one (reader, antenna) watches, and how many reads it has seen (for metrics)."""

    __slots__ = ("last_read", "location", "min_rssi", "reads", "side")

    def __init__(self, location: Location, side: int, min_rssi: float | None) -> None:
        self.location = location
        self.side = side
        self.min_rssi = min_rssi
        self.reads = 0
        self.last_read = 0.0


class ReadPointMap:
    """(reader, antenna) -> ReadPoint, built from the config."""

    def __init__(self, config: Config, identity: IdentityCache) -> None:
        antennas_of = {reader.name: reader.antennas for reader in config.readers}
        self.locations: dict[str, Location] = {}
        for settings in config.locations:
            location_filter = TagFilter(settings.filters, identity)
            self.locations[settings.name] = Location(settings.name, location_filter if location_filter.active else None)
        for settings in config.locations:
            self.locations[settings.name].neighbours = tuple(self.locations[n] for n in settings.neighbours)
        self.points: dict[tuple[str, int], ReadPoint] = {}
        for settings in config.locations:
            location = self.locations[settings.name]
            for point in settings.read_points:
                for antenna in point.antennas or antennas_of[point.reader]:
                    self.points[(point.reader, antenna)] = ReadPoint(location, _SIDES[point.side], point.min_rssi)

    def get(self, reader: str, antenna: int) -> ReadPoint | None:
        return self.points.get((reader, antenna))

    def location_of(self, reader: str, antenna: int) -> str | None:
        point = self.points.get((reader, antenna))
        return point.location.name if point is not None else None


def _power(rssi: float | None) -> float:
    """Linear power (mW) of a read, the weight of its time in the direction estimate."""
    return float(10.0 ** ((rssi if rssi is not None else -70.0) / 10.0))


class _Visit:
    """One tag at one location: a candidate until confirmed, then present until it departs."""

    __slots__ = (
        "antennas",
        "epc",
        "first_seen",
        "last_seen",
        "location",
        "reader",
        "reads",
        "recent",
        "rssi_max",
        "side_n",
        "side_w",
        "side_wt",
        "static",
    )

    def __init__(self, epc: str, location: str, time: float) -> None:
        self.epc = epc
        self.location = location
        self.reset(time)
        self.recent: deque[float] = deque()

    def reset(self, time: float) -> None:
        self.reader = ""
        self.first_seen = time
        self.last_seen = time
        self.reads = 0
        self.antennas: set[int] = set()
        self.rssi_max: float | None = None
        self.static = False
        # per side (index 1 outside, 2 inside): read count, sum of weights, sum of weight * time
        self.side_n = [0, 0, 0]
        self.side_w = [0.0, 0.0, 0.0]
        self.side_wt = [0.0, 0.0, 0.0]

    def add(self, read: TagRead, side: int) -> None:
        self.last_seen = read.time
        self.reads += 1
        self.reader = read.reader
        self.antennas.add(read.antenna)
        rssi = read.rssi
        if rssi is not None and (self.rssi_max is None or rssi > self.rssi_max):
            self.rssi_max = rssi
        if side:
            weight = _power(rssi)
            self.side_n[side] += 1
            self.side_w[side] += weight
            self.side_wt[side] += weight * (read.time - self.first_seen)

    def direction(self) -> tuple[str | None, float]:
        """``in`` (outside -> inside), ``out``, or None; and a confidence 0..1.

        Compares the power-weighted mean time of the reads on each side: a pallet moving in is
        strongest on the outside antennas first and on the inside antennas later.
        """
        n_out, n_in = self.side_n[_OUTSIDE], self.side_n[_INSIDE]
        if not n_out or not n_in:
            return None, 0.0
        t_out = self.side_wt[_OUTSIDE] / self.side_w[_OUTSIDE]
        t_in = self.side_wt[_INSIDE] / self.side_w[_INSIDE]
        delta = t_in - t_out
        span = max(self.last_seen - self.first_seen, 1e-3)
        separation = min(1.0, 2.0 * abs(delta) / span)
        support = min(1.0, min(n_out, n_in) / 4.0)
        confidence = round(separation * support, 2)
        if confidence < 0.1:
            return None, confidence
        return ("in" if delta > 0 else "out"), confidence


class PresenceTracker:
    """Arrived / departed / static per (tag, location). Not thread-safe: the main loop owns it."""

    def __init__(self, settings: PipelineSettings, gateway_id: str, identity: IdentityCache) -> None:
        self._settings = settings
        self._gateway = gateway_id
        self._identity = identity
        # All three ordered by last read, oldest first (move_to_end on every read), so that tick()
        # looks only at the visits that may have expired.
        self._candidates: OrderedDict[tuple[str, str], _Visit] = OrderedDict()
        self._present: OrderedDict[tuple[str, str], _Visit] = OrderedDict()
        self._static: OrderedDict[tuple[str, str], _Visit] = OrderedDict()

    @property
    def present_count(self) -> int:
        return len(self._present) + len(self._static)

    def adopt(self, other: PresenceTracker, locations: set[str]) -> None:
        """Take over ``other``'s visits at these locations (a config reload that left them unchanged)."""
        for mine, theirs in (
            (self._candidates, other._candidates),
            (self._present, other._present),
            (self._static, other._static),
        ):
            for key, visit in theirs.items():
                if key[1] in locations:
                    mine[key] = visit

    @property
    def tracked_count(self) -> int:
        return len(self._present) + len(self._static) + len(self._candidates)

    def observe(self, read: TagRead, location: str, side: int, hold: float, events: list[LocationEvent]) -> None:
        """Account one read of a tag at a location; append the events it causes.

        ``hold``: an arrival is confirmed no sooner than this after the visit's first read (door
        arbitration needs that long to see the neighbours' evidence).
        """
        settings = self._settings
        key = (read.epc, location)
        visit = self._present.get(key)
        if visit is not None:
            if read.time - visit.last_seen < settings.depart_after:
                visit.add(read, side)
                if read.time - visit.first_seen < settings.static_after:
                    self._present.move_to_end(key)
                    return
                del self._present[key]
                visit.static = True
                self._static[key] = visit
                if settings.static_event:
                    events.append(self._event("static", read.time, visit))
                return
            # silent for depart_after, but no tick ran in between (a late batch, a replay): the old
            # visit ended, and this read may begin a new one
            del self._present[key]
            events.append(self._departed(visit))
        else:
            visit = self._static.get(key)
            if visit is not None:
                if read.time - visit.last_seen < settings.static_release:
                    visit.add(read, side)
                    self._static.move_to_end(key)
                    return
                del self._static[key]
                events.append(self._departed(visit))
        visit = self._candidates.get(key)
        if visit is None:
            visit = self._candidates[key] = _Visit(read.epc, location, read.time)
        else:
            self._candidates.move_to_end(key)
            recent = visit.recent
            window_start = read.time - settings.arrive_window
            while recent and recent[0] < window_start:
                recent.popleft()
            if not recent:  # the earlier reads were too far apart: start over
                visit.reset(read.time)
        visit.add(read, side)
        visit.recent.append(read.time)
        if len(visit.recent) >= settings.arrive_min_reads and read.time - visit.first_seen >= hold:
            del self._candidates[key]
            visit.recent.clear()
            self._present[key] = visit
            events.append(self._event("arrived", read.time, visit))

    def seen_at(self, location: str) -> Iterator[tuple[str, float]]:
        """(epc, last read) of every tag tracked at ``location``, for scan fusion: O(tags tracked), called per
        scan, never per tag read."""
        for visits in (self._candidates, self._present, self._static):
            for (epc, where), visit in visits.items():
                if where == location:
                    yield epc, visit.last_seen

    def tick(self, now: float, events: list[LocationEvent]) -> None:
        """Emit ``departed`` for visits silent for ``depart_after``; forget stale candidates."""
        self._expire(self._present, now - self._settings.depart_after, events)
        self._expire(self._static, now - self._settings.static_release, events)
        forget_before = now - self._settings.arrive_window
        candidates = self._candidates
        while candidates:
            key, visit = next(iter(candidates.items()))
            if visit.last_seen > forget_before:
                break
            del candidates[key]

    def _expire(self, visits: OrderedDict[tuple[str, str], _Visit], before: float, events: list[LocationEvent]) -> None:
        while visits:
            key, visit = next(iter(visits.items()))
            if visit.last_seen > before:
                break
            del visits[key]
            events.append(self._departed(visit))

    def _departed(self, visit: _Visit) -> LocationEvent:
        event = self._event("departed", visit.last_seen, visit)
        event.direction, event.direction_confidence = visit.direction()
        return event

    def _event(self, kind: str, time: float, visit: _Visit) -> LocationEvent:
        return LocationEvent(
            type=kind,
            time=time,
            gateway=self._gateway,
            location=visit.location,
            reader=visit.reader,
            epc=visit.epc,
            antennas=sorted(visit.antennas),
            reads=visit.reads,
            rssi_max=visit.rssi_max,
            first_seen=visit.first_seen,
            last_seen=visit.last_seen,
            uri=self._identity.uri(visit.epc),
            static=visit.static,
        )


class DoorArbiter:
    """Decides, read by read, which of neighbouring locations a tag belongs to.

    Evidence per (tag, location) is a read count weighted by signal strength (amplitude, so a read
    20 dB stronger weighs 10 times more) that decays with ``arbitration_window`` as its time constant.
    """

    def __init__(self, window: float) -> None:
        self._window = window
        self._evidence: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    def wins(self, read: TagRead, location: Location) -> bool:
        """Add the read's evidence; True when ``location`` has at least as much as each neighbour."""
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
        for neighbour in location.neighbours:
            other = self._evidence.get((read.epc, neighbour.name))
            if other is not None and other[0] * math.exp(-max(0.0, t - other[1]) / window) > mine:
                return False
        return True

    def tick(self, now: float) -> None:
        """Forget evidence that has decayed to nothing (older than ten windows)."""
        before = now - 10 * self._window
        evidence = self._evidence
        while evidence:
            key, (_, t) = next(iter(evidence.items()))
            if t > before:
                break
            del evidence[key]


class Pipeline:
    """Reads in, events out. ``dropped`` counts reads that produce nothing, by reason."""

    def __init__(self, config: Config, identity: IdentityCache | None = None) -> None:
        self.identity = identity or IdentityCache()
        self.read_points = ReadPointMap(config, self.identity)
        settings = config.pipeline
        self.presence = PresenceTracker(settings, config.gateway.id, self.identity)
        self.arbiter = DoorArbiter(settings.arbitration_window)
        global_filter = TagFilter(settings.filters, self.identity)
        self._global_filter = global_filter if global_filter.active else None
        self._hold = settings.arbitration_window
        self._verdicts: dict[tuple[str, str], str | None] = {}
        self.dropped: Counter[str] = Counter()
        self.unmapped: Counter[tuple[str, int]] = Counter()  # reads from antennas no read point names
        self.reads_total = 0

    def adopt(self, old: Pipeline, locations: set[str]) -> None:
        """After a reload: keep presence at unchanged locations, and the counters (they are monotonic)."""
        self.presence.adopt(old.presence, locations)
        self.dropped.update(old.dropped)
        self.unmapped.update(old.unmapped)
        self.reads_total += old.reads_total
        for key, point in old.read_points.points.items():
            new_point = self.read_points.points.get(key)
            if new_point is not None:
                new_point.reads, new_point.last_read = point.reads, point.last_read
            else:
                self.unmapped[key] += point.reads

    def process(self, reads: Iterable[TagRead], now: float) -> list[LocationEvent]:
        """Run a batch of reads through the pipeline, then expire what is due at ``now``."""
        events: list[LocationEvent] = []
        get_point = self.read_points.get
        observe = self.presence.observe
        dropped = self.dropped
        count = 0
        for read in reads:
            count += 1
            point = get_point(read.reader, read.antenna)
            if point is None:
                dropped["no_read_point"] += 1
                self.unmapped[(read.reader, read.antenna)] += 1
                continue
            point.reads += 1
            point.last_read = read.time
            if point.min_rssi is not None and (read.rssi is None or read.rssi < point.min_rssi):
                dropped["below_min_rssi"] += 1
                continue
            location = point.location
            if self._global_filter is not None or location.filter is not None:
                reason = self._verdict(read.epc, location)
                if reason is not None:
                    dropped[reason] += 1
                    continue
            hold = 0.0
            if location.neighbours:
                if not self.arbiter.wins(read, location):
                    dropped["arbitration"] += 1
                    continue
                hold = self._hold
            observe(read, location.name, point.side, hold, events)
        self.reads_total += count
        self.presence.tick(now, events)
        self.arbiter.tick(now)
        return events

    def _verdict(self, epc: str, location: Location) -> str | None:
        key = (epc, location.name)
        try:
            return self._verdicts[key]
        except KeyError:
            pass
        reason = self._global_filter.reason(epc) if self._global_filter is not None else None
        if reason is None and location.filter is not None:
            reason = location.filter.reason(epc)
        if len(self._verdicts) >= _VERDICT_CACHE_MAX:
            self._verdicts.clear()  # bounded: a gateway runs for months and sees millions of tags
        self._verdicts[key] = reason
        return reason
