"""From raw tag reads to location events.

Plain classes over batches of reads with no clock of their own (the caller passes ``now``), so tests
run them on fake time and a replay gives the same events every time. Per read, in order:

1. read point: which location the (reader, antenna) watches, which side of the door it faces, and
   its minimum RSSI;
2. tag filters: the global ones, then the location's (include/exclude by EPC hex prefix or EPC URI
   pattern, an ignore list); the verdict is decided once per tag and location, then cached;
3. door arbitration: when neighbouring locations read the same tag within ``arbitration_window``,
   only the one with the stronger evidence (RSSI-weighted, decaying read count) keeps the read; an
   arrival there waits ``arbitration_window`` after the first read when its evidence leads the
   strongest neighbour's ``arbitration_lead`` times or more, and up to ``arbitration_doubt_hold`` for
   more reads when the call is closer (measured: docs/accuracy.md, Physics);
4. presence: one visit per (tag, location): ``arrived`` after ``arrive_min_reads`` within
   ``arrive_window``, ``departed`` after ``depart_after`` of silence (a shorter gap does not split a
   visit), with the dwell time and the direction of movement; a tag present without a break for
   ``static_after`` becomes ``static`` and is quiet until it has been gone for ``static_release``.

Every read that produces nothing is counted by reason in ``Pipeline.dropped``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from gateway.config import Config
from gateway.core.arbiter import DoorArbiter
from gateway.core.identity import IdentityCache
from gateway.core.presence import PresenceTracker
from gateway.core.readpoints import Location, ReadPointMap, TagFilter
from gateway.domain.model import LocationEvent, TagRead

__all__ = ["Pipeline", "PresenceTracker"]

_VERDICT_CACHE_MAX = 200_000


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
        self._hold_doubt = max(settings.arbitration_window, settings.arbitration_doubt_hold)
        self._lead = settings.arbitration_lead
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
                lead = self.arbiter.lead(read, location)
                if lead < 1.0:
                    dropped["arbitration"] += 1
                    continue
                hold = self._hold if lead >= self._lead else self._hold_doubt
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
