"""Runs a simulator scenario through the real pipeline on simulated time, much faster than real time.

The same scenario drives the LLRP simulator over TCP; here its reads go straight into ``Pipeline``
with a simulated clock, so a seven-minute scenario replays in about a second and gives the same
events every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gateway.config import Config
from gateway.core.pipeline import Pipeline
from gateway.domain.model import LocationEvent, TagRead
from simulators.llrp.scenario import ReadStream, Scenario

if TYPE_CHECKING:
    from gateway.bench.reader_wire import WireReads

EPOCH = 1_800_000_000.0  # simulated wall clock at scenario time 0
STEP_S = 0.05  # how often the simulated main loop turns


@dataclass
class Replay:
    events: list[LocationEvent]
    dropped: dict[str, int]
    reads: int
    end_s: float  # scenario time at which the replay stopped
    extra: dict[str, Any] = field(default_factory=dict)


def site_config(scenario: Scenario, pipeline: dict[str, Any] | None = None) -> Config:
    """The gateway config a scenario is meant for: its ``site``, or one reader seeing every antenna it uses."""
    from gateway.config import Config

    site = dict(scenario.site or {})
    if "readers" not in site:
        antennas: set[int] = set()
        locations: set[str] = set()
        for pallet in scenario.pallets:
            locations.add(pallet.location)
            for visit in pallet.visits:
                antennas.update(visit.antennas)
        for tag in scenario.static_tags:
            locations.add(tag.location)
            antennas.update(tag.antennas)
        site["readers"] = [{"name": "portal", "type": "llrp", "host": "127.0.0.1", "antennas": sorted(antennas)}]
        site["locations"] = [{"name": name, "read_points": [{"reader": "portal"}]} for name in sorted(locations)]
    data: dict[str, Any] = {"gateway": {"id": "replay"}, **site}
    if pipeline:
        data["pipeline"] = {**data.get("pipeline", {}), **pipeline}
    return Config.model_validate(data)


class ReplayReads:
    """The scenario's reads as the gateway's ``TagRead``s on the replay's clock, turn by turn."""

    def __init__(self, scenario: Scenario, reader: str) -> None:
        self._stream = ReadStream(scenario)
        self._reader = reader
        self._hex: dict[bytes, str] = {}

    def until(self, t: float) -> list[TagRead]:
        reads = []
        for r in self._stream.reads_until(t):
            epc = self._hex.get(r.epc)
            if epc is None:
                epc = self._hex[r.epc] = r.epc.hex().upper()
            reads.append(TagRead(self._reader, r.antenna, epc, float(r.rssi), EPOCH + r.t_s))
        return reads


def replay(
    scenario: Scenario, config: Config | None = None, step_s: float = STEP_S, reader_type: str = "direct"
) -> Replay:
    """Play every read of the scenario into a fresh pipeline, then run the clock on until every visit
    that ended has had time to depart. ``reader_type`` ``llrp`` or ``impinj-iot``: the reads go through
    that reader's wire and driver decoder (``reader_wire``)."""
    config = config or site_config(scenario)
    pipeline = Pipeline(config)
    reads: ReplayReads | WireReads
    if reader_type == "direct":
        reads = ReplayReads(scenario, config.readers[0].name)
    else:
        from gateway.bench.reader_wire import WireReads

        reads = WireReads(scenario, config.readers[0].name, reader_type, EPOCH)
    return run_turns(pipeline, reads, scenario.duration_s + config.pipeline.depart_after + 1.0, step_s)


class ReadSource(Protocol):
    def until(self, t: float) -> list[TagRead]:
        """The reads up to scenario time ``t`` not handed out yet, on the replay's clock (``EPOCH + t``)."""
        ...


def run_turns(pipeline: Pipeline, reads: ReadSource, end_s: float, step_s: float = STEP_S) -> Replay:
    """The simulated main loop: a turn every ``step_s`` of scenario time up to ``end_s``, each turn's
    reads through the pipeline at ``EPOCH + t``."""
    events: list[LocationEvent] = []
    t = 0.0
    while t < end_s:
        t = round(t + step_s, 6)
        events.extend(pipeline.process(reads.until(t), EPOCH + t))
    return Replay(events, dict(pipeline.dropped), pipeline.reads_total, t)
