"""``Display``: what the main loop keeps for others to see beyond its parts' own figures: the present
list of each location (``gateway.ops.present``), the last events stored and the read rates
(``gateway.ops.activity``). The snapshot copies its fields; the retained present topics come from it."""

from __future__ import annotations

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

    def adopt(self, old: Display) -> None:
        """After a reload: the last events, the rates and the kept locations' lists carry over."""
        self.present.adopt(old.present)
        self.recent, self.rates = old.recent, old.rates

    def stored(self, events: list[LocationEvent]) -> None:
        self.recent.stored(events)

    def turn(
        self,
        now: float,
        events: list[LocationEvent],
        pipeline: Pipeline,
        connects: int,
        publish: Publish | None,
    ) -> None:
        points = pipeline.read_points.points
        counts = {key: point.reads for key, point in points.items()}
        self.rates.turn(now, counts)
        reads: dict[str, int] = {}
        for key, point in points.items():
            name = point.location.name
            reads[name] = reads.get(name, 0) + counts[key]
        self.present.saw(events)
        self.present.turn(now, pipeline.presence, reads, connects, publish)
