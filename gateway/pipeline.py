"""From raw tag reads to location events.

Two stages over batches of reads, both plain classes with no clock of their own (the caller passes
``now``), so tests run them on fake time and a replay gives the same events every time:

- ``ReadPointMap`` says which location a (reader, antenna) watches;
- ``PresenceTracker`` keeps one visit per (tag, location) and emits ``arrived`` once a tag has
  ``arrive_min_reads`` reads within ``arrive_window``, and ``departed`` after ``depart_after`` without reads.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from collections.abc import Iterable

from gateway.config import Config, PipelineSettings
from gateway.model import LocationEvent, TagRead


class ReadPointMap:
    """(reader, antenna) -> location, built from the config's read points."""

    def __init__(self, config: Config) -> None:
        antennas_of = {reader.name: reader.antennas for reader in config.readers}
        self._location: dict[tuple[str, int], str] = {}
        for location in config.locations:
            for point in location.read_points:
                for antenna in point.antennas or antennas_of[point.reader]:
                    self._location[(point.reader, antenna)] = location.name

    def location_of(self, reader: str, antenna: int) -> str | None:
        return self._location.get((reader, antenna))


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
    )

    def __init__(self, epc: str, location: str, time: float) -> None:
        self.epc = epc
        self.location = location
        self.reader = ""
        self.first_seen = time
        self.last_seen = time
        self.reads = 0
        self.antennas: set[int] = set()
        self.rssi_max: float | None = None
        self.recent: deque[float] = deque()

    def add(self, read: TagRead) -> None:
        self.last_seen = read.time
        self.reads += 1
        self.reader = read.reader
        self.antennas.add(read.antenna)
        if read.rssi is not None and (self.rssi_max is None or read.rssi > self.rssi_max):
            self.rssi_max = read.rssi


class PresenceTracker:
    """Arrived / departed per (tag, location). Not thread-safe: the gateway's main loop owns it."""

    def __init__(self, settings: PipelineSettings, gateway_id: str) -> None:
        self._settings = settings
        self._gateway = gateway_id
        # Both ordered by last read, oldest first (move_to_end on every read), so that
        # tick() looks only at the visits that may have expired.
        self._candidates: OrderedDict[tuple[str, str], _Visit] = OrderedDict()
        self._present: OrderedDict[tuple[str, str], _Visit] = OrderedDict()

    @property
    def present_count(self) -> int:
        return len(self._present)

    @property
    def tracked_count(self) -> int:
        return len(self._present) + len(self._candidates)

    def observe(self, read: TagRead, location: str, events: list[LocationEvent]) -> None:
        """Account one read of a tag at a location; append an ``arrived`` event if it confirms one."""
        key = (read.epc, location)
        visit = self._present.get(key)
        if visit is not None:
            if read.time - visit.last_seen < self._settings.depart_after:
                visit.add(read)
                self._present.move_to_end(key)
                return
            # silent for depart_after, but no tick ran in between (a late batch, a replay): the old
            # visit ended, and this read may begin a new one
            del self._present[key]
            events.append(self._event("departed", visit.last_seen, visit))
        visit = self._candidates.get(key)
        window_start = read.time - self._settings.arrive_window
        if visit is None:
            visit = self._candidates[key] = _Visit(read.epc, location, read.time)
        else:
            self._candidates.move_to_end(key)
            recent = visit.recent
            while recent and recent[0] < window_start:
                recent.popleft()
            if not recent:  # the earlier reads were too far apart: start over
                visit.__init__(read.epc, location, read.time)  # type: ignore[misc]
        visit.add(read)
        visit.recent.append(read.time)
        if len(visit.recent) >= self._settings.arrive_min_reads:
            del self._candidates[key]
            visit.recent.clear()
            self._present[key] = visit
            events.append(self._event("arrived", read.time, visit))

    def tick(self, now: float, events: list[LocationEvent]) -> None:
        """Emit ``departed`` for visits with no read for ``depart_after``; forget stale candidates."""
        depart_before = now - self._settings.depart_after
        present = self._present
        while present:
            key, visit = next(iter(present.items()))
            if visit.last_seen > depart_before:
                break
            del present[key]
            events.append(self._event("departed", visit.last_seen, visit))
        forget_before = now - self._settings.arrive_window
        candidates = self._candidates
        while candidates:
            key, visit = next(iter(candidates.items()))
            if visit.last_seen > forget_before:
                break
            del candidates[key]

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
        )


class Pipeline:
    """Reads in, events out: maps each read to its location and tracks presence.

    ``dropped`` counts reads that produce nothing, by reason, so nothing is lost silently.
    """

    def __init__(self, config: Config) -> None:
        self.read_points = ReadPointMap(config)
        self.presence = PresenceTracker(config.pipeline, config.gateway.id)
        self.dropped: Counter[str] = Counter()
        self.reads_total = 0

    def process(self, reads: Iterable[TagRead], now: float) -> list[LocationEvent]:
        """Run a batch of reads through the pipeline, then expire what is due at ``now``."""
        events: list[LocationEvent] = []
        location_of = self.read_points.location_of
        observe = self.presence.observe
        count = 0
        for read in reads:
            count += 1
            location = location_of(read.reader, read.antenna)
            if location is None:
                self.dropped["no_read_point"] += 1
                continue
            observe(read, location, events)
        self.reads_total += count
        self.presence.tick(now, events)
        return events
