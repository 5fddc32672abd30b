"""Accuracy against ground truth: the scenario library at default settings, and the scorer itself."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from gateway.bench.accuracy import score, score_events
from gateway.bench.pipeline_run import EPOCH, replay, site_config
from gateway.domain.model import LocationEvent
from simulators.llrp.scenario import Scenario, load_scenario
from simulators.scenarios import library
from tests.conftest import REPO

SCENARIOS = {path.stem: load_scenario(path) for path in library()}


def test_the_library_covers_the_situations_of_a_dock_door() -> None:
    assert set(SCENARIOS) >= {
        "in-and-out",
        "back-to-back",
        "dense-pallet",
        "forklift-pass-by",
        "neighbour-strays",
        "static-door-frame",
        "drop-outs",
        "rssi-noise",
    }
    assert max(len(s.truth()) for s in SCENARIOS.values()) >= 200  # the dense pallet


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_library_scenario_at_default_settings(name: str) -> None:
    scenario = SCENARIOS[name]
    result = score(scenario)
    floor = 1.0 if scenario.category == "clean" else 0.99
    assert result.precision >= floor, result
    assert result.recall >= floor, result
    if result.direction_accuracy is not None:
        assert result.direction_accuracy >= 0.95, result
    assert result.location_accuracy in (None, 1.0) or result.location_accuracy >= 0.99


def test_static_door_frame_tags_are_reported_static_once() -> None:
    result = replay(SCENARIOS["static-door-frame"])
    static = [e for e in result.events if e.type == "static"]
    truth_static = {v.epc for v in SCENARIOS["static-door-frame"].truth() if v.static}
    assert {e.epc for e in static} == truth_static
    assert len(static) == len(truth_static)
    assert all(e.time - EPOCH == pytest.approx(300, abs=1) for e in static)


def _without_neighbours(scenario: Scenario) -> Scenario:
    site = json.loads(json.dumps(scenario.site))
    for location in site["locations"]:
        location["neighbours"] = []
    return dataclasses.replace(scenario, site=site)


def test_the_scorer_sees_phantoms_when_arbitration_is_off() -> None:
    scenario = _without_neighbours(SCENARIOS["neighbour-strays"])
    result = score(scenario)
    assert result.false_events > 0
    assert result.precision < 0.95
    assert result.location_accuracy is not None and result.location_accuracy < 1.0


def test_the_scorer_counts_misses_and_phantoms() -> None:
    scenario = SCENARIOS["in-and-out"]
    events = replay(scenario).events
    perfect = score_events(scenario, events)
    assert (perfect.precision, perfect.recall) == (1.0, 1.0)

    missing = [e for e in events if not (e.type == "departed" and e.epc == events[0].epc)]
    result = score_events(scenario, missing)
    assert result.recall < 1.0 and result.precision == 1.0

    phantom = dataclasses.replace(events[0], id="x", epc="30340000000000000000BEEF")
    assert isinstance(phantom, LocationEvent)
    result = score_events(scenario, [*events, phantom])
    assert result.precision < 1.0 and result.recall == 1.0 and result.false_events == 1

    wrong_way = [
        dataclasses.replace(e, direction="out" if e.direction == "in" else "in") if e.type == "departed" else e
        for e in events
    ]
    assert score_events(scenario, wrong_way).direction_accuracy == 0.0


def test_replay_is_deterministic() -> None:
    scenario = SCENARIOS["rssi-noise"]
    config = site_config(scenario)
    first = [(e.type, e.time, e.epc, e.direction) for e in replay(scenario, config).events]
    second = [(e.type, e.time, e.epc, e.direction) for e in replay(scenario, config).events]
    assert first == second


@pytest.mark.e2e  # a child process or TCP: end to end, in a file of unit tests
def test_bench_accuracy_cli_json() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "bench", "accuracy", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    data = json.loads(result.stdout)
    names = {s["name"] for s in data["scenarios"]}
    assert names == {s.name for s in SCENARIOS.values()}
    for row in data["scenarios"]:
        for key in ("precision", "recall", "direction_accuracy", "location_accuracy", "arrival_latency_p95_s"):
            assert key in row
    shipments = {row["scenario"] for row in data["shipments"]}
    assert shipments == {s.name for s in SCENARIOS.values() if s.shipments}
    assert all(row["exact"] for row in data["shipments"])
