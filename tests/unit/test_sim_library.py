"""The scenario library: every file loads, is realistic for the gateway defaults, and its truth matches
its reads; the same scenario drives the in-process replay and the TCP simulator."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from sllurp.llrp import LLRPReaderClient, LLRPReaderConfig

from simulators.llrp.cli import default_antennas
from simulators.llrp.scenario import (
    ReadStream,
    Scenario,
    TagRead,
    TrueVisit,
    Visit,
    default_scenario_path,
    load_scenario,
)
from simulators.llrp.server import LLRPSimulator
from simulators.scenarios import library, library_dir

pytestmark = pytest.mark.timeout(60)

ARRIVE_READS, ARRIVE_WINDOW_S, DEPART_SILENCE_S = 2, 1.0, 5.0  # the gateway's defaults
NAMES = [
    "back-to-back",
    "dense-pallet",
    "drop-outs",
    "forklift-pass-by",
    "in-and-out",
    "neighbour-strays",
    "rssi-noise",
    "shipment-case-missing",
    "shipment-complete-load",
    "shipment-late-case",
    "shipment-neighbour-door",
    "shipment-receiving-class",
    "shipment-unexpected-pallet",
    "static-door-frame",
]
CLEAN = {
    "in-and-out",
    "back-to-back",
    "dense-pallet",
    "forklift-pass-by",
    "static-door-frame",
    "shipment-case-missing",
    "shipment-complete-load",
    "shipment-receiving-class",
    "shipment-unexpected-pallet",
}
SITE = {
    "readers": [{"name": "portal", "type": "llrp", "host": "127.0.0.1", "antennas": [1, 2, 3, 4, 5, 6, 7, 8]}],
    "locations": [
        {
            "name": "dock-3",
            "neighbours": ["dock-4"],
            "read_points": [
                {"reader": "portal", "antennas": [1, 2], "side": "outside"},
                {"reader": "portal", "antennas": [3, 4], "side": "inside"},
            ],
        },
        {
            "name": "dock-4",
            "neighbours": ["dock-3"],
            "read_points": [
                {"reader": "portal", "antennas": [5, 6], "side": "outside"},
                {"reader": "portal", "antennas": [7, 8], "side": "inside"},
            ],
        },
    ],
}

_cache: dict[str, tuple[Scenario, list[TagRead]]] = {}


def scenario(name: str) -> Scenario:
    return played(name)[0]


def played(name: str) -> tuple[Scenario, list[TagRead]]:
    if name not in _cache:
        sc = load_scenario(library_dir() / f"{name}.yaml")
        _cache[name] = (sc, ReadStream(sc).reads_until(sc.duration_s + 1))
    return _cache[name]


def sides(sc: Scenario) -> dict[int, tuple[str, str]]:
    """antenna -> (location, side) from the scenario's site."""
    assert sc.site is not None
    return {
        a: (loc["name"], rp["side"])
        for loc in sc.site["locations"]
        for rp in loc["read_points"]
        for a in rp["antennas"]
    }


def observed_visits(sc: Scenario, reads: list[TagRead]) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(epc, location) -> visits as a correct gateway with the default settings separates them."""
    where = sides(sc)
    times: dict[tuple[str, str], list[float]] = {}
    for r in reads:
        times.setdefault((r.epc.hex().upper(), where[r.antenna][0]), []).append(r.t_s)
    out: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for key, ts in times.items():
        visits = [[ts[0], ts[0]]]
        for t in ts[1:]:
            if t - visits[-1][1] > DEPART_SILENCE_S:
                visits.append([t, t])
            visits[-1][1] = t
        out[key] = [(a, b) for a, b in visits]
    return out


def test_library_lists_every_file_sorted() -> None:
    files = library()
    assert [p.stem for p in files] == NAMES
    assert files == sorted(files)
    assert all(p.parent == library_dir() for p in files)
    assert (library_dir() / "README.md").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_file_loads_with_site_category_and_realistic_numbers(name: str) -> None:
    sc = scenario(name)
    raw = yaml.safe_load((library_dir() / f"{name}.yaml").read_text())
    assert sc.name == name
    assert sc.site == SITE
    assert sc.category == ("clean" if name in CLEAN else "noisy")
    assert sc.description.startswith(f"{sc.category}:")
    assert raw["duration"], "library files state their duration"
    assert 5 <= sc.read_rate <= 15
    if sc.category == "clean":
        assert (sc.rssi_noise_db, sc.drop_rate) == (0, 0)
    else:
        assert 2 <= sc.rssi_noise_db <= 4
    reader_antennas = set(SITE["readers"][0]["antennas"])  # type: ignore[index]
    assert sc.antennas_used() <= reader_antennas
    locations = {loc["name"] for loc in SITE["locations"]}  # type: ignore[attr-defined]
    for p in sc.pallets:
        assert p.location in locations
        for v in p.visits:
            knots = [k for a in v.antennas for k in (v.profiles.get(a) or (v.antennas[a],))]
            if v.stray:
                assert all(-80 <= k <= -70 for k in knots), (p.name, knots)
                assert v.read_rate is not None and v.read_rate < sc.read_rate
                assert all(sides(sc)[a][0] != p.location for a in v.antennas), "strays come from the neighbour"
            else:
                assert all(-65 <= k <= -45 for k in knots), (p.name, knots)
                assert all(sides(sc)[a][0] == p.location for a in v.antennas)


@pytest.mark.parametrize("name", NAMES)
def test_a_correct_gateway_can_separate_the_true_visits(name: str) -> None:
    """With arrive-after-2-reads-in-1-s and depart-after-5-s-silence, the reads give exactly the truth."""
    sc, reads = played(name)
    observed = observed_visits(sc, reads)
    truth = sc.truth()
    expected: dict[tuple[str, str], list[TrueVisit]] = {}
    for t in truth:
        expected.setdefault((t.epc, t.location), []).append(t)
    for key, true_visits in expected.items():
        got = observed.get(key, [])
        assert len(got) == len(true_visits), (key, got, true_visits)
        for (first, last), tv in zip(got, true_visits, strict=True):
            assert tv.start_s <= first < tv.start_s + 1.0
            assert tv.end_s - 1.0 < last < tv.end_s
            if not tv.open_end:
                assert last + DEPART_SILENCE_S < sc.duration_s, "the departure happens within the scenario"
    strays = {key for key in observed if key not in expected}
    stray_pallets = {(e, p.name) for p in sc.pallets if any(v.stray for v in p.visits) for e in p.epcs}
    assert {e for e, _ in strays} <= {e for e, _ in stray_pallets}
    # every true visit can arrive: 2 reads within 1 s on its location's antennas
    for key in observed:
        if key in expected:
            ts = [r.t_s for r in reads if r.epc.hex().upper() == key[0] and sides(sc)[r.antenna][0] == key[1]]
            assert any(b - a <= ARRIVE_WINDOW_S for a, b in itertools.pairwise(ts))


@pytest.mark.parametrize("name", NAMES)
def test_same_tags_are_silent_6s_between_visits(name: str) -> None:
    sc, reads = played(name)
    by_epc: dict[bytes, list[float]] = {}
    for r in reads:
        by_epc.setdefault(r.epc, []).append(r.t_s)
    for p in sc.pallets:
        true_visits = sorted((v for v in p.visits if not v.stray), key=lambda v: v.start_s)
        for a, b in itertools.pairwise(true_visits):
            assert b.start_s - a.end_s >= 6.0, p.name


@pytest.mark.parametrize("name", [*sorted(CLEAN - {"static-door-frame"}), "neighbour-strays", "rssi-noise"])
def test_direction_shows_in_the_rssi_ramps(name: str) -> None:
    sc, reads = played(name)
    where = sides(sc)
    for p in sc.pallets:
        epcs = {bytes.fromhex(e) for e in p.epcs}
        for v in p.visits:
            if v.stray or v.direction is None:
                continue
            third = (v.end_s - v.start_s) / 3
            mine = [r for r in reads if r.epc in epcs and v.start_s <= r.t_s < v.end_s]

            def mean(side: str, t0: float, t1: float, rs: list[TagRead] = mine) -> float:
                vals = [r.rssi for r in rs if where[r.antenna][1] == side and t0 <= r.t_s < t1]
                return sum(vals) / len(vals)

            early = mean("outside", v.start_s, v.start_s + third) - mean("inside", v.start_s, v.start_s + third)
            late = mean("outside", v.end_s - third, v.end_s) - mean("inside", v.end_s - third, v.end_s)
            if v.direction == "in":
                assert early > 5 and late < -5, (p.name, early, late)
            else:
                assert early < -5 and late > 5, (p.name, early, late)


def test_in_and_out_truth() -> None:
    sc = scenario("in-and-out")
    moves = sorted({(t.pallet, t.start_s, t.direction) for t in sc.truth()}, key=lambda m: m[1])
    assert [d for _, _, d in moves] == ["in", "out", "in", "out"]
    assert moves[0][0] == moves[-1][0] == "pallet-in-1"


def test_back_to_back_second_pallet_enters_a_second_after_the_first_leaves() -> None:
    sc = scenario("back-to-back")
    visits = sorted(((p.name, p.visits[0]) for p in sc.pallets), key=lambda pv: pv[1].start_s)
    pairs = [(visits[0], visits[1]), (visits[2], visits[3])]
    for (_, first), (_, second) in pairs:
        assert 0.5 <= second.start_s - first.end_s <= 1.5
        assert first.direction == second.direction is not None


def test_dense_pallet_has_over_200_tags_and_replays_fast() -> None:
    sc = scenario("dense-pallet")
    (pallet,) = sc.pallets
    assert len(pallet.epcs) >= 200
    assert sum(e.startswith("31") for e in pallet.epcs) == 1
    truth = sc.truth()
    assert len(truth) == len(pallet.epcs) and {t.direction for t in truth} == {"in"}


def test_forklift_pass_by_is_short_outside_only_and_has_no_direction() -> None:
    sc, reads = played("forklift-pass-by")
    passing = next(p for p in sc.pallets if p.name == "passing-pallet")
    for v in passing.visits:
        assert 1.5 <= v.end_s - v.start_s <= 3.0
        assert v.direction is None and not v.stray
        assert {sides(sc)[a][1] for a in v.antennas} == {"outside"}
    epcs = {bytes.fromhex(e) for e in passing.epcs}
    assert {sides(sc)[r.antenna][1] for r in reads if r.epc in epcs} == {"outside"}
    assert {t.direction for t in sc.truth() if t.pallet == "passing-pallet"} == {None}
    assert {t.direction for t in sc.truth() if t.pallet != "passing-pallet"} == {"in"}


def test_neighbour_strays_truth_lists_only_the_real_location() -> None:
    sc, reads = played("neighbour-strays")
    truth = sc.truth()
    d4 = [p for p in sc.pallets if p.location == "dock-4"]
    assert len(d4) >= 2 and any(p.location == "dock-3" for p in sc.pallets)
    for p in d4:
        assert {t.location for t in truth if t.pallet == p.name} == {"dock-4"}
        assert len({(t.start_s, t.end_s) for t in truth if t.pallet == p.name}) == 1
        epcs = {bytes.fromhex(e) for e in p.epcs}
        stray_reads = [r for r in reads if r.epc in epcs and r.antenna <= 4]
        assert stray_reads and all(r.rssi >= -80 for r in stray_reads)
        assert sum(r.rssi for r in stray_reads) / len(stray_reads) < -70
    # a dock-3 pallet moves in while a dock-4 pallet moves out next door
    d3 = next(p for p in sc.pallets if p.location == "dock-3")
    assert any(v.start_s < d3.visits[0].end_s and d3.visits[0].start_s < v.end_s for p in d4 for v in p.visits)


def test_static_door_frame() -> None:
    sc, reads = played("static-door-frame")
    assert sc.duration_s == 420.0
    assert len(sc.static_tags) == 3
    assert all(set(s.antennas) == {1, 3} for s in sc.static_tags)
    static = [t for t in sc.truth() if t.static]
    assert len(static) == 3 and all((t.start_s, t.end_s, t.open_end) == (0.0, 420.0, True) for t in static)
    starts = sorted(v.start_s for p in sc.pallets for v in p.visits)
    assert sum(s < 300 for s in starts) >= 2 and sum(s > 300 for s in starts) >= 2
    open_visits = [t for t in sc.truth() if t.open_end and not t.static]
    assert open_visits and {(t.pallet, t.end_s, t.direction) for t in open_visits} == {("pallet-5-staged", 420.0, None)}
    for s in sc.static_tags:
        ts = [r.t_s for r in reads if r.epc == bytes.fromhex(s.epcs[0])]
        assert ts[0] < 0.2 and ts[-1] > 419.8
        assert max(b - a for a, b in itertools.pairwise(ts)) < 0.2


def test_static_scenario_replays_in_well_under_two_seconds() -> None:
    sc = load_scenario(library_dir() / "static-door-frame.yaml")
    started = time.perf_counter()
    stream = ReadStream(sc)
    n = 0
    t = 0.0
    while not stream.exhausted:
        t += 0.1
        n += len(stream.reads_until(t))
    assert n > 20_000
    assert time.perf_counter() - started < 2.0


def test_drop_outs_have_gaps_but_one_true_visit_each() -> None:
    sc, reads = played("drop-outs")
    assert sc.drop_rate == 0.2
    for p in sc.pallets:
        (v,) = p.visits
        assert v.gaps and all(1.0 <= b - a <= 3.0 for a, b in v.gaps)
        epcs = {bytes.fromhex(e) for e in p.epcs}
        assert not [r for r in reads if r.epc in epcs and any(a <= r.t_s < b for a, b in v.gaps)]
        assert len([t for t in sc.truth() if t.pallet == p.name]) == len(p.epcs)


def test_rssi_noise() -> None:
    sc = scenario("rssi-noise")
    assert (sc.rssi_noise_db, sc.drop_rate) == (4, 0.1)
    assert {t.direction for t in sc.truth()} == {"in", "out"}


@pytest.mark.parametrize("name", NAMES)
def test_replay_is_the_same_for_any_window_size(name: str) -> None:
    sc, whole = played(name)
    for step in (0.05, 0.37, 7.0):
        stream = ReadStream(sc)
        sliced: list[TagRead] = []
        t = 0.0
        while not stream.exhausted:
            t += step
            sliced.extend(stream.reads_until(t))
        assert sliced == whole, step


def test_visit_dataclass_keeps_positional_order() -> None:
    assert Visit(1.0, 2.0, {1: -50.0}, "in").direction == "in"
    assert TrueVisit("E", "p", "l", 0.0, 1.0, None) == TrueVisit("E", "p", "l", 0.0, 1.0, None, False, False)


# ---- the same scenario over TCP, to sllurp's client -----------------------------------------------

ALL_CONTENT = {
    "EnableROSpecID": True,
    "EnableAntennaID": True,
    "EnablePeakRSSI": True,
    "EnableFirstSeenTimestamp": True,
    "EnableLastSeenTimestamp": True,
    "EnableTagSeenCount": True,
}


@pytest.fixture
def portal() -> Iterator[LLRPSimulator]:
    sc = load_scenario(library_dir() / "forklift-pass-by.yaml")
    sim = LLRPSimulator(sc, port=0, antennas=8, speed=30.0)
    sim.start()
    yield sim
    sim.stop()


@pytest.mark.e2e  # a child process or TCP: end to end, in a file of unit tests
def test_tcp_simulator_serves_a_library_scenario_to_sllurp(portal: LLRPSimulator) -> None:
    sc = portal.reader.scenario
    tags: list[dict[str, Any]] = []
    lock = threading.Lock()

    def on_tags(_reader: object, reports: list[dict[str, Any]]) -> None:
        with lock:
            tags.extend(reports)

    client = LLRPReaderClient(
        "127.0.0.1",
        portal.port,
        LLRPReaderConfig(
            {
                "antennas": [1, 2, 3, 4, 5, 6, 7, 8],
                "report_every_n_tags": 50,
                "report_timeout_ms": 100,
                "tag_content_selector": ALL_CONTENT,
                "start_inventory": True,
                "reset_on_connect": True,
            }
        ),
    )
    client.add_tag_report_callback(on_tags)
    client.connect()
    try:
        time.sleep(sc.duration_s / portal.reader.speed + 1.0)  # 45 s at 30x, plus time to flush
    finally:
        client.disconnect()
        client.join(5)
    assert not client.is_alive()
    expected = Counter((r.epc.hex(), r.antenna, r.rssi) for r in ReadStream(sc).reads_until(sc.duration_s))
    with lock:
        got = Counter((t["EPC"].decode().lower(), t["AntennaID"], t["PeakRSSI"]) for t in tags)
    assert got == expected
    assert {e.upper() for e, _, _ in got} == {t.epc for t in sc.truth()}


@pytest.mark.e2e  # a child process or TCP: end to end, in a file of unit tests
def test_cli_defaults_to_enough_antennas_for_the_scenario() -> None:
    assert default_antennas(scenario("neighbour-strays")) == 8
    assert default_antennas(load_scenario(default_scenario_path())) == 4
