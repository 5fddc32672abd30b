"""Reads in, events out: the pipeline for tag reads and, where scanners are configured, the scan
processor beside it, which fuses scans with the tags the same pipeline tracks. Built anew from every
config (a reload included), so the scan processor always asks the presence tracker that is running."""

from __future__ import annotations

from gateway.config import Config
from gateway.core.identity import IdentityCache
from gateway.core.pipeline import Pipeline
from gateway.core.scanning import ScanProcessor
from gateway.domain.model import LocationEvent, TagRead


class Flow:
    def __init__(self, config: Config, identity: IdentityCache | None = None) -> None:
        self.pipeline = Pipeline(config, identity=identity)
        scans = ScanProcessor(config, self.pipeline.presence, self.pipeline.identity)
        self.scans = scans if scans.active else None  # None: no scanner, nothing to tell apart

    def adopt(self, old: Flow, locations: set[str]) -> None:
        """After a reload: presence at these (unchanged) locations and the counters carry over."""
        self.pipeline.adopt(old.pipeline, locations)
        if self.scans is not None and old.scans is not None:
            self.scans.adopt(old.scans)

    def process(self, batches: list[list[TagRead]], now: float) -> list[LocationEvent]:
        """This turn's batches (tag reads and scans, each batch all of one kind) -> events."""
        scan_batches: list[list[TagRead]] = []
        if self.scans is not None:  # scanners share the read hand-over; their batches are told apart per batch
            batches, scan_batches = self.scans.split(batches)
        events = self.pipeline.process((read for batch in batches for read in batch), now)
        if self.scans is not None:
            events += self.scans.process(scan_batches, events, now)
        return events
