"""Scenario loading, validation errors with field paths, ground truth and read generation."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from simulators.llrp.scenario import (
    ReadStream,
    ScenarioError,
    default_scenario_path,
    load_scenario,
    parse_duration,
    scenario_from_dict,
)

pytestmark = pytest.mark.timeout(30)

QUICK = Path(__file__).resolve().parents[2] / "simulators" / "llrp" / "examples" / "quick.yaml"


def minimal() -> dict:  # type: ignore[type-arg]
    return {
        "name": "t",
        "pallets": [
            {
                "name": "p1",
                "location": "dock-1",
                "tags": [{"epc": "3034257BF7194E4000001A85"}],
                "visits": [{"start": "1s", "end": "2s", "antennas": {1: -50}}],
            }
        ],
    }


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("250ms", 0.25), ("5s", 5.0), ("2m", 120.0), (3, 3.0), (1.5, 1.5), ("0.5s", 0.5), ("7", 7.0)],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["5 hours", "-1s", -2, True, None, "s"])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ScenarioError, match=r"^x\.y: "):
        parse_duration(value, "x.y")


def mutate(path: list[object], value: object) -> dict:  # type: ignore[type-arg]
    data = minimal()
    target: object = data
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    return data


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        (["pallets", 0, "visits", 0, "end"], "500ms", r"pallets\[0\]\.visits\[0\]\.end: must be after start"),
        (
            ["pallets", 0, "visits", 0, "start"],
            "soon",
            r"pallets\[0\]\.visits\[0\]\.start: expected a duration",
        ),
        (
            ["pallets", 0, "visits", 0, "antennas"],
            {"one": -50},
            r"pallets\[0\]\.visits\[0\]\.antennas: antenna id",
        ),
        (
            ["pallets", 0, "visits", 0, "direction"],
            "up",
            r"pallets\[0\]\.visits\[0\]\.direction: expected in or out",
        ),
        (["pallets", 0, "tags", 0], {"epc": "XYZ"}, r"pallets\[0\]\.tags\[0\]\.epc: expected hex"),
        (
            ["pallets", 0, "tags", 0],
            {"epc": 300000000000000000000001},
            r"pallets\[0\]\.tags\[0\]\.epc: expected a quoted",
        ),
        (
            ["pallets", 0, "tags", 0],
            {"sgtin": {"company_prefix": "0614141", "item_reference": "81234", "serial": 1}},
            r"pallets\[0\]\.tags\[0\]\.sgtin: item_reference must be 6 digits",
        ),
        (
            ["pallets", 0, "tags", 0],
            {"sgtin": {"company_prefix": 614141, "item_reference": "812345"}},
            r"pallets\[0\]\.tags\[0\]\.sgtin\.company_prefix: expected a quoted string of digits",
        ),
        (["pallets", 0, "tags", 0], {"sscc": {"company_prefix": "0614141"}}, r"sscc\.serial_reference"),
        (["pallets", 0, "tags", 0], {"gtin": "1"}, r"pallets\[0\]\.tags\[0\]: unknown field 'gtin'"),
        (["pallets", 0, "location"], 3, r"pallets\[0\]\.location: expected a string"),
        (["pallets", 0, "colour"], "red", r"pallets\[0\]: unknown field 'colour'"),
        (["read_rate"], 0, r"^read_rate: must be > 0, got 0$"),
        (["drop_rate"], 1.0, r"^drop_rate: must be < 1, got 1.0$"),
        (["pallets"], [], r"pallets: expected a non-empty list"),
    ],
)
def test_loader_errors_name_the_field_path(path: list[object], value: object, error: str) -> None:
    with pytest.raises(ScenarioError, match=error):
        scenario_from_dict(mutate(path, value))


def test_missing_required_field_is_named() -> None:
    data = minimal()
    del data["pallets"][0]["visits"][0]["end"]
    with pytest.raises(ScenarioError, match=r"pallets\[0\]\.visits\[0\]\.end: required"):
        scenario_from_dict(data)


def test_duplicate_epc_across_pallets_is_rejected() -> None:
    data = minimal()
    data["pallets"].append(dict(data["pallets"][0], name="p2"))
    with pytest.raises(ScenarioError, match=r"pallets\[1\]\.tags: EPC 3034257BF7194E4000001A85 is also on p1"):
        scenario_from_dict(data)


def test_load_scenario_reports_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("pallets: [\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")


def test_truth_matches_the_yaml() -> None:
    raw = yaml.safe_load(QUICK.read_text())
    scenario = load_scenario(QUICK)
    truth = scenario.truth()
    assert [t.start_s for t in truth] == sorted(t.start_s for t in truth)
    first, second = raw["pallets"]
    assert {t.pallet for t in truth} == {first["name"], second["name"]}
    a = [t for t in truth if t.pallet == first["name"]]
    assert len(a) == first["tags"][0]["sgtin"]["count"] + 1
    assert {t.epc for t in a} >= {
        "3034257BF7194E4000001A85",
        "3034257BF7194E4000001A86",
        "3114257BF4499602D2000000",
    }
    assert all((t.location, t.start_s, t.end_s, t.direction) == ("dock-3", 0.5, 2.0, "in") for t in a)
    assert scenario.duration_s == 4.5
    assert all(t.epc == t.epc.upper() and len(t.epc) == 24 for t in truth)


def test_default_scenario_fits_the_gateway_defaults() -> None:
    scenario = load_scenario(default_scenario_path())
    assert scenario.name == "default"
    assert 3 <= len(scenario.pallets) <= 4
    assert scenario.duration_s <= 22.0
    visits = sorted((v.start_s, v.end_s) for p in scenario.pallets for v in p.visits)
    for (_, end), (start, _) in itertools.pairwise(visits):
        assert start - end >= 2.0, "pallets need a gap between them"
    for p in scenario.pallets:
        assert p.location == "dock-3"
        assert any(epc.startswith("31") for epc in p.epcs), "each pallet has an SSCC tag"
        assert sum(epc.startswith("30") for epc in p.epcs) >= 3


def test_read_stream_rate_and_window_independence() -> None:
    scenario = load_scenario(QUICK)
    whole = ReadStream(scenario).reads_until(10.0)
    stream = ReadStream(scenario)
    sliced = [r for k in range(1, 201) for r in stream.reads_until(k * 0.05)]
    assert whole == sliced
    assert stream.exhausted
    # 4 tags x 2 antennas x 1.5 s x 10/s + 3 tags x 2 antennas x 1.5 s x 10/s
    assert len(whole) == pytest.approx(7 * 2 * 1.5 * 10, abs=14)
    assert all(0.5 <= r.t_s < 2.0 for r in whole if r.antenna in (1, 2))
    assert {r.antenna for r in whole} == {1, 2, 3, 4}


def test_read_stream_drop_rate_and_antenna_filter() -> None:
    data = minimal()
    data["read_rate"] = 100
    data["drop_rate"] = 0.5
    data["pallets"][0]["visits"][0]["antennas"] = {1: -50, 2: -60}
    data["pallets"][0]["visits"][0]["end"] = "11s"
    reads = ReadStream(scenario_from_dict(data)).reads_until(20)
    on_one = [r for r in reads if r.antenna == 1]
    assert 350 < len(on_one) < 650  # 1000 attempts, half dropped
    only_two = ReadStream(scenario_from_dict(data), frozenset({2})).reads_until(20)
    assert {r.antenna for r in only_two} == {2}
    assert all(r.rssi == -60 for r in only_two)  # no noise configured
