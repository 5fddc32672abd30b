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
from array import array
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator

from gateway.config import Config, FilterSettings, PipelineSettings
from gateway.core.identity import IdentityCache, UriPattern
from gateway.domain.model import LocationEvent, PresenceRow, TagRead, antenna_list

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
    """One tag at one location: a candidate until confirmed, then present until it departs.

    Kept small, there may be a million of them: antennas as a bitmask, the candidate's recent read
    times only while it is a candidate, the per-side direction sums only where read points have sides.
    The location is the dict the visit lives in, not a field.
    """

    __slots__ = (
        "antennas",
        "epc",
        "first_seen",
        "last_seen",
        "reader",
        "reads",
        "recent",
        "rssi_max",
        "sides",
        "static",
    )

    def __init__(self, epc: str, time: float) -> None:
        self.epc = epc
        self.recent: list[float] | None = []
        self.reset(time)

    def reset(self, time: float) -> None:
        self.reader = ""
        self.first_seen = time
        self.last_seen = time
        self.reads = 0
        self.antennas = 0  # bit n set: antenna n read the tag (antenna ids above 1023 share bit 1023)
        self.rssi_max: float | None = None
        self.static = False
        # per side: [reads, sum of weights, sum of weight * time] outside, then the same inside
        self.sides: array[float] | None = None

    def add(self, read: TagRead, side: int) -> None:
        time = read.time
        self.last_seen = time
        self.reads += 1
        self.reader = read.reader
        self.antennas |= 1 << min(read.antenna, 1023)
        rssi = read.rssi
        if rssi is not None and (self.rssi_max is None or rssi > self.rssi_max):
            self.rssi_max = rssi
        if side:
            sides = self.sides
            if sides is None:
                sides = self.sides = array("d", bytes(48))
            weight = _power(rssi)
            base = 3 * (side - 1)
            sides[base] += 1.0
            sides[base + 1] += weight
            sides[base + 2] += weight * (time - self.first_seen)

    def direction(self) -> tuple[str | None, float]:
        """``in`` (outside -> inside), ``out``, or None; and a confidence 0..1.

        Compares the power-weighted mean time of the reads on each side: a pallet moving in is
        strongest on the outside antennas first and on the inside antennas later.
        """
        sides = self.sides
        if sides is None or not sides[0] or not sides[3]:
            return None, 0.0
        t_out = sides[2] / sides[1]
        t_in = sides[5] / sides[4]
        delta = t_in - t_out
        span = max(self.last_seen - self.first_seen, 1e-3)
        separation = min(1.0, 2.0 * abs(delta) / span)
        support = min(1.0, min(sides[0], sides[3]) / 4.0)
        confidence = round(separation * support, 2)
        if confidence < 0.1:
            return None, confidence
        return ("in" if delta > 0 else "out"), confidence


class _Place:
    """The visits at one location, each dict in order of last read (oldest first: a read moves its
    visit to the end), so that expiry looks only at the front."""

    __slots__ = ("candidates", "name", "present", "static")

    def __init__(self, name: str) -> None:
        self.name = name
        self.candidates: dict[str, _Visit] = {}
        self.present: dict[str, _Visit] = {}
        self.static: dict[str, _Visit] = {}


class PresenceTracker:
    """Arrived / departed / static per (tag, location). Not thread-safe: the main loop owns it."""

    def __init__(self, settings: PipelineSettings, gateway_id: str, identity: IdentityCache) -> None:
        self._settings = settings
        self._gateway = gateway_id
        self._identity = identity
        self._places: dict[str, _Place] = {}

    def _place(self, location: str) -> _Place:
        place = self._places.get(location)
        if place is None:
            place = self._places[location] = _Place(location)
        return place

    @property
    def present_count(self) -> int:
        return sum(len(p.present) + len(p.static) for p in self._places.values())

    @property
    def tracked_count(self) -> int:
        return sum(len(p.present) + len(p.static) + len(p.candidates) for p in self._places.values())

    def snapshot(self, limit: int) -> list[PresenceRow]:
        """Present and static visits, most recently read first, as rows for the outbox's presence table."""
        rows: list[PresenceRow] = []
        for place in self._places.values():
            for visits, static in ((place.present, False), (place.static, True)):
                for visit in reversed(visits.values()):
                    if len(rows) >= limit:
                        break
                    rows.append(
                        PresenceRow(
                            place.name,
                            visit.epc,
                            visit.first_seen,
                            visit.last_seen,
                            visit.reads,
                            visit.antennas,
                            visit.rssi_max,
                            visit.reader,
                            static,
                        )
                    )
        return rows

    def restore(self, rows: Iterable[PresenceRow]) -> int:
        """Visits known to be present before a restart (oldest first). Those at locations that no longer
        exist are skipped; the rest depart in the usual way when they are not read again."""
        count = 0
        for location, epc, first_seen, last_seen, reads, antennas, rssi_max, reader, static in rows:
            place = self._place(location)
            visit = _Visit(epc, first_seen)
            visit.recent = None
            visit.last_seen, visit.reads, visit.antennas = last_seen, reads, antennas
            visit.rssi_max, visit.reader, visit.static = rssi_max, reader, bool(static)
            (place.static if static else place.present)[epc] = visit
            count += 1
        return count

    def adopt(self, other: PresenceTracker, locations: set[str]) -> None:
        """Take over ``other``'s visits at these locations (a config reload that left them unchanged)."""
        for name, place in other._places.items():
            if name in locations:
                self._places[name] = place

    def observe(self, read: TagRead, location: str, side: int, hold: float, events: list[LocationEvent]) -> None:
        """Account one read of a tag at a location; append the events it causes.

        ``hold``: an arrival is confirmed no sooner than this after the visit's first read (door
        arbitration needs that long to see the neighbours' evidence).
        """
        settings = self._settings
        place = self._places.get(location) or self._place(location)
        epc = read.epc
        time = read.time
        present = place.present
        visit = present.get(epc)
        if visit is not None:
            if time - visit.last_seen < settings.depart_after:
                visit.add(read, side)
                del present[epc]
                if time - visit.first_seen < settings.static_after:
                    present[epc] = visit  # to the end: the most recently read
                    return
                visit.static = True
                place.static[epc] = visit
                if settings.static_event:
                    events.append(self._event("static", time, visit, place))
                return
            # silent for depart_after, but no tick ran in between (a late batch, a replay): the old
            # visit ended, and this read may begin a new one
            del present[epc]
            events.append(self._departed(visit, place))
        else:
            visit = place.static.get(epc)
            if visit is not None:
                del place.static[epc]
                if time - visit.last_seen < settings.static_release:
                    visit.add(read, side)
                    place.static[epc] = visit
                    return
                events.append(self._departed(visit, place))
        candidates = place.candidates
        visit = candidates.pop(epc, None)
        if visit is None or visit.recent is None:
            visit = _Visit(epc, time)
        else:
            window_start = time - settings.arrive_window
            times = visit.recent
            if times and times[0] < window_start:
                times[:] = [t for t in times if t >= window_start]
            if not times:  # the earlier reads were too far apart: start over
                visit.reset(time)
        visit.add(read, side)
        recent = visit.recent
        assert recent is not None
        recent.append(time)
        if len(recent) >= settings.arrive_min_reads and time - visit.first_seen >= hold:
            visit.recent = None
            present[epc] = visit
            events.append(self._event("arrived", time, visit, place))
        else:
            candidates[epc] = visit

    def seen_at(self, location: str) -> Iterator[tuple[str, float]]:
        """(epc, last read) of every tag tracked at ``location``, for scan fusion: O(tags tracked there),
        called per scan, never per tag read."""
        place = self._places.get(location)
        if place is None:
            return
        for visits in (place.candidates, place.present, place.static):
            for epc, visit in visits.items():
                yield epc, visit.last_seen

    def tick(self, now: float, events: list[LocationEvent]) -> None:
        """Emit ``departed`` for visits silent for ``depart_after``; forget stale candidates."""
        settings = self._settings
        for place in self._places.values():
            for visit in _expired(place.present, now - settings.depart_after):
                events.append(self._departed(visit, place))
            for visit in _expired(place.static, now - settings.static_release):
                events.append(self._departed(visit, place))
            if place.candidates:
                _expired(place.candidates, now - settings.arrive_window)
                if not place.candidates:
                    place.candidates = {}  # a dict never gives back memory: after a rush, start small again

    def _departed(self, visit: _Visit, place: _Place) -> LocationEvent:
        event = self._event("departed", visit.last_seen, visit, place)
        event.direction, event.direction_confidence = visit.direction()
        return event

    def _event(self, kind: str, time: float, visit: _Visit, place: _Place) -> LocationEvent:
        return LocationEvent(
            type=kind,
            time=time,
            gateway=self._gateway,
            location=place.name,
            reader=visit.reader,
            epc=visit.epc,
            antennas=antenna_list(visit.antennas),
            reads=visit.reads,
            rssi_max=visit.rssi_max,
            first_seen=visit.first_seen,
            last_seen=visit.last_seen,
            uri=self._identity.uri(visit.epc),
            static=visit.static,
        )


def _expired(visits: dict[str, _Visit], before: float) -> list[_Visit]:
    """Remove and return the visits last read at or before ``before`` (they are at the front)."""
    gone: list[_Visit] = []
    for visit in visits.values():  # one pass over the front, then stop
        if visit.last_seen > before:
            break
        gone.append(visit)
    for visit in gone:
        del visits[visit.epc]
    return gone


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
