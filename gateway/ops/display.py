"""``Display``: what the main loop keeps for others to see beyond its parts' own figures: the present
list of each location (``gateway.ops.present``), the last events stored and the read rates
(``gateway.ops.activity``). The snapshot copies its fields; the retained present topics come from it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.config import Config
from gateway.core.owners import Owners
from gateway.core.pipeline import Pipeline
from gateway.domain.model import LocationEvent
from gateway.ops.activity import ReadRates, RecentEvents
from gateway.ops.present import PresentLists, Publish


class Display:
    def __init__(self, config: Config, owners: Owners) -> None:
        names = [loc.name for loc in config.locations]
        self.present = PresentLists(config.present, config.gateway.id, names, owners)
        self.recent = RecentEvents()
        self.rates = ReadRates()
        self._count_every = min(1.0, config.present.snapshot_every)
        self._counted_at = float("-inf")
        self._reads: dict[str, int] = {}  # location -> reads, as last counted

    def adopt(self, old: Display) -> None:
        """After a reload: the last events, the rates and the kept locations' lists carry over."""
        self.present.adopt(old.present)
        self.recent, self.rates = old.recent, old.rates

    def stored(self, payloads: Sequence[Mapping[str, Any]]) -> None:
        self.recent.stored(payloads)

    def turn(
        self,
        now: float,
        events: list[LocationEvent],
        pipeline: Pipeline,
        connects: int,
        publish: Publish | None,
    ) -> None:
        self.present.saw(events)
        if now - self._counted_at >= self._count_every or events:
            # read counts once a second (rates; reads that may have moved a tag's antennas or direction),
            # not every turn: at a steady pace there are many turns a second, each with a few reads
            self._counted_at = now
            points = pipeline.read_points.points
            counts = {key: point.reads for key, point in points.items()}
            self.rates.turn(now, counts)
            self._reads = {}
            for key, point in points.items():
                name = point.location.name
                self._reads[name] = self._reads.get(name, 0) + counts[key]
        self.present.turn(now, pipeline.presence, self._reads, connects, publish)
