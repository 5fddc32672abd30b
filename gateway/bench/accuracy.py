"""``dockgate bench accuracy``: how closely the events match what physically happened.

Each scenario of the library is replayed through the real pipeline on simulated time, and its events
are scored against the scenario's ground truth:

- every true visit of a tag at a location expects one ``arrived`` (event time within
  ``[start - 0.5 s, start + 3 s]``) and, unless the tag is still there when the scenario ends, one
  ``departed`` (time of the last read within ``[end - 3 s, end + 0.5 s]``); an event matches at most
  one expectation;
- precision = matched events / arrived and departed events; recall = matched expectations / expectations;
- location accuracy = true visits whose tag arrived at the true location only / true visits whose tag
  arrived anywhere in that time;
- direction accuracy = matched departures with the true direction / matched departures of visits
  whose truth has a direction (``in`` or ``out``);
- arrival latency = arrived event time - true start, p95 over matched arrivals, in simulated seconds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from gateway.bench.pipeline_run import EPOCH, replay
from gateway.domain.model import LocationEvent
from simulators.llrp.scenario import Scenario, TrueVisit, load_scenario

ARRIVE_EARLY_S = 0.5
ARRIVE_LATE_S = 3.0
DEPART_EARLY_S = 3.0
DEPART_LATE_S = 0.5


@dataclass
class Score:
    name: str
    category: str | None
    precision: float
    recall: float
    location_accuracy: float | None
    direction_accuracy: float | None
    arrival_latency_p95_s: float | None
    events: int
    expected: int
    matched: int
    false_events: int
    static_events: int
    reads: int
    dropped: dict[str, int]


def score(scenario: Scenario, reader_type: str = "direct") -> Score:
    """``reader_type`` ``llrp`` or ``impinj-iot``: the reads go through that reader's wire and decoder."""
    result = replay(scenario, reader_type=reader_type)
    return score_events(scenario, result.events, result.reads, result.dropped)


def score_events(
    scenario: Scenario,
    events: Sequence[LocationEvent],
    reads: int = 0,
    dropped: dict[str, int] | None = None,
    calibration: list[tuple[float, bool]] | None = None,
) -> Score:
    """``calibration``: when given, gets (direction_confidence, right) of every matched departure with a
    direction whose truth has one."""
    truth = scenario.truth()
    scored = [e for e in events if e.type in ("arrived", "departed")]
    used: set[int] = set()  # events matched to an expectation
    neutral: set[int] = set()  # departures of tags still there when the scenario ended
    expected = matched = 0
    latencies: list[float] = []
    direction_total = direction_right = 0
    location_total = location_right = 0

    def find(kind: str, visit: TrueVisit, lo: float, hi: float) -> int | None:
        for i, e in enumerate(scored):
            if i in used or i in neutral or e.type != kind or e.epc != visit.epc or e.location != visit.location:
                continue
            if lo <= e.time - EPOCH <= hi:
                return i
        return None

    for visit in truth:
        expected += 1
        arrived = find("arrived", visit, visit.start_s - ARRIVE_EARLY_S, visit.start_s + ARRIVE_LATE_S)
        if arrived is not None:
            used.add(arrived)
            matched += 1
            latencies.append(scored[arrived].time - EPOCH - visit.start_s)
        if visit.open_end:
            # still there when the world ends: a departure after the end is neither right nor wrong
            for i, e in enumerate(scored):
                if (
                    e.type == "departed"
                    and e.epc == visit.epc
                    and e.location == visit.location
                    and e.time - EPOCH >= visit.start_s
                    and i not in used
                ):
                    neutral.add(i)
        else:
            expected += 1
            departed = find("departed", visit, visit.end_s - DEPART_EARLY_S, visit.end_s + DEPART_LATE_S)
            if departed is not None:
                used.add(departed)
                matched += 1
                if visit.direction in ("in", "out"):
                    direction_total += 1
                    right = scored[departed].direction == visit.direction
                    direction_right += right
                    if calibration is not None and scored[departed].direction is not None:
                        calibration.append((scored[departed].direction_confidence, right))
        # where did this tag arrive while it was really at visit.location?
        places = {
            e.location
            for e in scored
            if e.type == "arrived"
            and e.epc == visit.epc
            and visit.start_s - ARRIVE_EARLY_S <= e.time - EPOCH <= visit.end_s + DEPART_LATE_S
        }
        if places:
            location_total += 1
            location_right += places == {visit.location}

    counted = len(scored) - len(neutral)
    false_events = counted - len(used)
    precision = len(used) / counted if counted else 1.0
    return Score(
        name=scenario.name,
        category=scenario.category,
        precision=round(precision, 4),
        recall=round(matched / expected, 4) if expected else 1.0,
        location_accuracy=round(location_right / location_total, 4) if location_total else None,
        direction_accuracy=round(direction_right / direction_total, 4) if direction_total else None,
        arrival_latency_p95_s=round(_p95(latencies), 3) if latencies else None,
        events=len(scored),
        expected=expected,
        matched=matched,
        false_events=false_events,
        static_events=sum(1 for e in events if e.type == "static"),
        reads=reads,
        dropped=dict(dropped or {}),
    )


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def scenario_files(directory: Path | None) -> list[Path]:
    if directory is None:
        from simulators.scenarios import library

        return library()
    return sorted(directory.glob("*.yaml"))


def run(directory: Path | None = None, as_json: bool = False, reader_type: str = "direct") -> str:
    from gateway.bench import shipments

    scenarios = [load_scenario(path) for path in scenario_files(directory)]
    scores = [score(s, reader_type) for s in scenarios]
    verdicts = [v for s in scenarios for v in shipments.score(s)]
    if as_json:
        return json.dumps(
            {"scenarios": [asdict(s) for s in scores], "shipments": [asdict(v) for v in verdicts]}, indent=2
        )
    if not verdicts:
        return table(scores)
    return f"{table(scores)}\n\nshipments (gateway/bench/shipments.py):\n{shipments.table(verdicts)}"


def table(scores: Sequence[Score]) -> str:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    w = max([22, *(len(s.name) for s in scores)])
    header = (
        f"{'scenario':<{w}} {'kind':<6} {'precision':>9} {'recall':>7} {'location':>8} {'direction':>9} "
        f"{'arrive p95 s':>12} {'events':>6} {'false':>5} {'static':>6}"
    )
    lines = [header, "-" * len(header)]
    for s in scores:
        lines.append(
            f"{s.name:<{w}} {s.category or '-':<6} {pct(s.precision):>9} {pct(s.recall):>7} "
            f"{pct(s.location_accuracy):>8} {pct(s.direction_accuracy):>9} "
            f"{pct(s.arrival_latency_p95_s):>12} {s.events:>6} {s.false_events:>5} {s.static_events:>6}"
        )
    return "\n".join(lines)
