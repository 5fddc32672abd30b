"""Runs a simulator scenario through the real pipeline on simulated time, much faster than real time.

The same scenario drives the LLRP simulator over TCP; here its reads go straight into ``Pipeline``
with a simulated clock, so a seven-minute scenario replays in about a second and gives the same
events every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.config import Config
from gateway.core.pipeline import Pipeline
from gateway.domain.model import LocationEvent, TagRead
from simulators.llrp.scenario import ReadStream, Scenario

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


def replay(scenario: Scenario, config: Config | None = None, step_s: float = STEP_S) -> Replay:
    """Play every read of the scenario into a fresh pipeline, then run the clock on until every visit
    that ended has had time to depart."""
    config = config or site_config(scenario)
    pipeline = Pipeline(config)
    reader = config.readers[0].name
    stream = ReadStream(scenario)
    end_s = scenario.duration_s + config.pipeline.depart_after + 1.0
    events: list[LocationEvent] = []
    hex_of: dict[bytes, str] = {}
    t = 0.0
    while t < end_s:
        t = round(t + step_s, 6)
        reads = []
        for r in stream.reads_until(t):
            epc = hex_of.get(r.epc)
            if epc is None:
                epc = hex_of[r.epc] = r.epc.hex().upper()
            reads.append(TagRead(reader, r.antenna, epc, float(r.rssi), EPOCH + r.t_s))
        events.extend(pipeline.process(reads, EPOCH + t))
    return Replay(events, dict(pipeline.dropped), pipeline.reads_total, t)
