"""Scenario format extensions: RSSI profiles, min_rssi, gaps, static tags, duration, open and stray visits."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from simulators.llrp.scenario import (
    ReadStream,
    ScenarioError,
    TrueVisit,
    Visit,
    scenario_from_dict,
)

pytestmark = pytest.mark.timeout(30)

EPC_A = "3034257BF7194E4000001A85"
EPC_B = "3034257BF7194E4000001A86"
EPC_S = "E2801160600002084A1F5C11"


def base() -> dict[str, Any]:
    return {
        "name": "t",
        "read_rate": 50,
        "pallets": [
            {
                "name": "p1",
                "location": "dock-3",
                "tags": [{"epc": EPC_A}],
                "visits": [{"start": "2s", "end": "6s", "antennas": {1: -50}, "direction": "in"}],
            }
        ],
    }


def with_visit(**fields: object) -> dict[str, Any]:
    data = base()
    data["pallets"][0]["visits"][0].update(fields)
    return data


def test_rssi_profile_interpolates_between_evenly_spaced_knots() -> None:
    data = with_visit(antennas={1: [-75, -48, -70], 3: [-80, -50]})
    visit = scenario_from_dict(data).pallets[0].visits[0]
    assert visit.antennas == {1: -48, 3: -50}  # the peak
    assert visit.rssi_at(1, 2.0) == -75
    assert visit.rssi_at(1, 3.0) == pytest.approx(-61.5)
    assert visit.rssi_at(1, 4.0) == -48
    assert visit.rssi_at(1, 5.0) == pytest.approx(-59.0)
    assert visit.rssi_at(1, 6.0) == -70
    assert visit.rssi_at(3, 4.0) == pytest.approx(-65.0)
    assert visit.rssi_at(1, 99.0) == -70  # clamped


def test_reads_follow_the_profile() -> None:
    data = with_visit(antennas={1: [-75, -48, -70], 3: -60})
    reads = ReadStream(scenario_from_dict(data)).reads_until(10)
    for r in reads:
        if r.antenna == 1:
            t = r.t_s - 2.0
            expected = -75 + 27 * t / 2 if t < 2 else -48 - 22 * (t - 2) / 2
            assert abs(r.rssi - expected) <= 0.5
        else:
            assert r.rssi == -60
    early = [r.rssi for r in reads if r.antenna == 1 and r.t_s < 2.5]
    mid = [r.rssi for r in reads if r.antenna == 1 and 3.8 < r.t_s < 4.2]
    assert max(early) < min(mid)


def test_constant_visit_keeps_working_when_built_by_hand() -> None:
    assert Visit(0.0, 1.0, {2: -55.0}).rssi_at(2, 0.5) == -55.0


def test_min_rssi_drops_weak_reads() -> None:
    data = with_visit(antennas={1: [-90, -50]})
    data["min_rssi"] = -70
    reads = ReadStream(scenario_from_dict(data)).reads_until(10)
    assert reads and all(r.rssi >= -70 for r in reads)
    # -90 -> -50 over 4 s: RSSI reaches -70 at the visit's midpoint
    assert min(r.t_s for r in reads) == pytest.approx(4.0, abs=0.08)  # rounded to whole dBm
    data["min_rssi"] = -40
    assert ReadStream(scenario_from_dict(data)).reads_until(10) == []


def test_min_rssi_with_noise_thins_reads_near_the_floor() -> None:
    data = with_visit(antennas={1: -76}, end="22s")
    data["rssi_noise_db"] = 3.0
    without = ReadStream(scenario_from_dict(data)).reads_until(30)
    data["min_rssi"] = -78
    with_floor = ReadStream(scenario_from_dict(data)).reads_until(30)
    assert all(r.rssi >= -78 for r in with_floor)
    assert 0.55 * len(without) < len(with_floor) < 0.9 * len(without)  # P(N(-76, 3) >= -78.5) ~ 0.8


def test_gaps_produce_no_reads_and_leave_truth_unchanged() -> None:
    data = with_visit(gaps=[{"start": "3s", "end": "4.2s"}, {"start": 5, "end": 5.5}])
    scenario = scenario_from_dict(data)
    reads = ReadStream(scenario).reads_until(10)
    assert not [r for r in reads if 3.0 <= r.t_s < 4.2 or 5.0 <= r.t_s < 5.5]
    assert [r for r in reads if 2.0 <= r.t_s < 3.0] and [r for r in reads if 4.2 <= r.t_s < 5.0]
    assert [r for r in reads if 5.5 <= r.t_s < 6.0]
    assert scenario.truth() == [TrueVisit(EPC_A, "p1", "dock-3", 2.0, 6.0, "in")]


def test_static_tags_span_the_duration_and_are_marked_in_truth() -> None:
    data = base()
    data["duration"] = "1m"
    data["static_tags"] = [
        {"epc": EPC_S, "antennas": {1: -60, 3: -62}, "location": "dock-3", "name": "frame-left"},
        {
            "sgtin": {"company_prefix": "0614141", "item_reference": "899999", "serial": 7},
            "antennas": {3: -61},
            "location": "dock-3",
        },
    ]
    scenario = scenario_from_dict(data)
    assert scenario.duration_s == 60.0
    truth = scenario.truth()
    static = [t for t in truth if t.static]
    assert [(t.pallet, t.start_s, t.end_s, t.direction, t.open_end) for t in static] == [
        ("frame-left", 0.0, 60.0, None, True),
        ("static-2", 0.0, 60.0, None, True),
    ]
    pallet = [t for t in truth if not t.static]
    assert pallet == [TrueVisit(EPC_A, "p1", "dock-3", 2.0, 6.0, "in", static=False, open_end=False)]
    reads = ReadStream(scenario).reads_until(61)
    frame = [r for r in reads if r.epc == bytes.fromhex(EPC_S)]
    assert {r.antenna for r in frame} == {1, 3}
    assert min(r.t_s for r in frame) < 0.05 and max(r.t_s for r in frame) > 59.9
    assert len(frame) == pytest.approx(2 * 60 * 50, abs=2)
    assert scenario.antennas_used() == {1, 3}


def test_static_tags_without_pallets_need_a_duration() -> None:
    data: dict[str, Any] = {"static_tags": [{"epc": EPC_S, "antennas": {1: -60}, "location": "d"}]}
    with pytest.raises(ScenarioError, match=r"^duration: required"):
        scenario_from_dict(data)
    data["duration"] = 30
    assert scenario_from_dict(data).duration_s == 30.0


def test_duration_defaults_to_the_last_visit_and_marks_no_open_end() -> None:
    scenario = scenario_from_dict(base())
    assert scenario.duration is None and scenario.duration_s == 6.0
    assert not any(t.open_end for t in scenario.truth())


def test_open_visits() -> None:
    data = base()
    data["duration"] = "20s"
    data["pallets"][0]["visits"].append({"start": "12s", "end": "open", "antennas": {1: -50}})
    data["pallets"].append(
        {
            "name": "p2",
            "location": "dock-3",
            "tags": [{"epc": EPC_B}],
            "visits": [{"start": "15s", "end": "20s", "antennas": {2: -55}}],
        }
    )
    scenario = scenario_from_dict(data)
    truth = scenario.truth()
    assert [(t.pallet, t.start_s, t.end_s, t.open_end) for t in truth] == [
        ("p1", 2.0, 6.0, False),
        ("p1", 12.0, 20.0, True),
        ("p2", 15.0, 20.0, True),
    ]
    reads = ReadStream(scenario).reads_until(100)
    assert max(r.t_s for r in reads) < 20.0


def test_stray_visits_produce_reads_but_no_truth() -> None:
    data = base()
    data["pallets"][0]["location"] = "dock-4"
    data["pallets"][0]["visits"] = [
        {"start": "2s", "end": "6s", "antennas": {5: -50, 7: -55}, "direction": "in"},
        {"start": "2s", "end": "6s", "antennas": {1: -76}, "stray": True, "read_rate": 2},
    ]
    scenario = scenario_from_dict(data)
    assert scenario.truth() == [TrueVisit(EPC_A, "p1", "dock-4", 2.0, 6.0, "in")]
    reads = ReadStream(scenario).reads_until(10)
    on_one = [r for r in reads if r.antenna == 1]
    assert len(on_one) == 8  # 2 reads/s for 4 s
    assert all(r.rssi == -76 for r in on_one)
    assert len([r for r in reads if r.antenna == 5]) == 200


def test_category_and_site_pass_through() -> None:
    data = base()
    site = {"readers": [{"name": "portal", "type": "llrp", "antennas": [1, 2]}], "locations": []}
    data["site"] = copy.deepcopy(site)
    data["category"] = "noisy"
    scenario = scenario_from_dict(data)
    assert scenario.site == site
    assert scenario.category == "noisy"
    plain = scenario_from_dict(base())
    assert plain.site is None and plain.category is None


def test_static_only_reads_are_window_independent() -> None:
    data = with_visit(antennas={1: [-70, -45, -70]}, gaps=[{"start": 3, "end": 3.5}])
    data.update(rssi_noise_db=3.0, drop_rate=0.2, min_rssi=-72, duration="30s")
    data["static_tags"] = [
        {"epc": EPC_S, "antennas": {1: -60, 3: -71}, "location": "d", "gaps": [{"start": 10, "end": 12}]}
    ]
    scenario = scenario_from_dict(data)
    whole = ReadStream(scenario).reads_until(31)
    for step in (0.013, 0.25, 1.7):
        stream = ReadStream(scenario)
        sliced: list[Any] = []
        t = 0.0
        while not stream.exhausted:
            t += step
            sliced.extend(stream.reads_until(t))
        assert sliced == whole
    assert not [r for r in whole if r.epc == bytes.fromhex(EPC_S) and 10 <= r.t_s < 12]


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda d: d.update(duration="4s"), r"pallets\[0\]\.visits\[0\]\.end: after the scenario duration"),
        (lambda d: d.update(duration="0s"), r"^duration: must be > 0"),
        (lambda d: d.update(category="dirty"), r"^category: expected clean or noisy"),
        (lambda d: d.update(site=[1]), r"^site: expected a mapping"),
        (lambda d: d.update(min_rssi="low"), r"^min_rssi: expected a number"),
        (lambda d: d.update(static_tags={"epc": EPC_S}), r"^static_tags: expected a list"),
        (lambda d: visit(d).update(end="open"), r"pallets\[0\]\.visits\[0\]\.end: 'open' needs a top-level"),
        (
            lambda d: visit(d).update(antennas={1: [-50]}),
            r"visits\[0\]\.antennas\[1\]: a profile needs at least 2",
        ),
        (
            lambda d: visit(d).update(antennas={1: [-50, "x"]}),
            r"visits\[0\]\.antennas\[1\]\[1\]: expected a number",
        ),
        (
            lambda d: visit(d).update(gaps=[{"start": 1, "end": 3}]),
            r"visits\[0\]\.gaps\[0\]: must lie within",
        ),
        (
            lambda d: visit(d).update(gaps=[{"start": 4, "end": 3}]),
            r"visits\[0\]\.gaps\[0\]\.end: must be after",
        ),
        (lambda d: visit(d).update(gaps=[{"start": 3}]), r"visits\[0\]\.gaps\[0\]\.end: required"),
        (lambda d: visit(d).update(gaps={"start": 3}), r"visits\[0\]\.gaps: expected a list"),
        (lambda d: visit(d).update(stray="yes"), r"visits\[0\]\.stray: expected true or false"),
        (lambda d: visit(d).update(stray=True), r"visits\[0\]\.direction: a stray visit .* no direction"),
        (lambda d: visit(d).update(read_rate=0), r"visits\[0\]\.read_rate: must be > 0"),
        (
            lambda d: d.update(static_tags=[{"epc": EPC_A, "antennas": {1: -60}, "location": "d"}]),
            r"static_tags\[0\]: EPC 3034257BF7194E4000001A85 is also on p1",
        ),
        (
            lambda d: d.update(static_tags=[{"epc": EPC_S, "location": "d"}]),
            r"static_tags\[0\]\.antennas: required",
        ),
        (
            lambda d: d.update(static_tags=[{"antennas": {1: -60}, "location": "d"}]),
            r"static_tags\[0\]: expected exactly one of epc, sgtin, sscc",
        ),
        (
            lambda d: d.update(static_tags=[{"epc": "XY", "antennas": {1: -60}, "location": "d"}]),
            r"static_tags\[0\]\.epc: expected hex",
        ),
        (
            lambda d: d.update(static_tags=[{"epc": EPC_S, "antennas": {1: -60}, "location": "d", "colour": 1}]),
            r"static_tags\[0\]: unknown field 'colour'",
        ),
    ],
)
def test_new_fields_errors_name_the_field_path(edit: Any, error: str) -> None:
    data = base()
    edit(data)
    with pytest.raises(ScenarioError, match=error):
        scenario_from_dict(data)


def visit(data: dict[str, Any]) -> dict[str, Any]:
    v: dict[str, Any] = data["pallets"][0]["visits"][0]
    return v


def test_adding_static_tags_leaves_pallet_reads_unchanged() -> None:
    data = with_visit(antennas={1: [-60, -50], 2: -55})
    data["rssi_noise_db"] = 2.0
    data["drop_rate"] = 0.1
    before = ReadStream(scenario_from_dict(data)).reads_until(10)
    data["static_tags"] = [{"epc": EPC_S, "antennas": {1: -60}, "location": "d"}]
    after = ReadStream(scenario_from_dict(data)).reads_until(10)
    assert [r for r in after if r.epc != bytes.fromhex(EPC_S)] == before
