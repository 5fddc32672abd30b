"""End to end with an ``impinj-iot`` reader: `dockgate simulate impinj-iot` over real HTTP and HTTPS (a test
CA), a real mosquitto and `dockgate run` as child processes. Faults are in test_impinj_iot_faults.py."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from simulators.llrp.scenario import default_scenario_path, load_scenario
from tests.conftest import Broker, Subscriber, wait_until
from tests.e2e.test_e2e import QUICK, spawn, start_simulator, stop
from tests.tlsutil import make_pki

PASSWORD = "R700-pw-9f3c"  # distinctive: never in a log line


def start_impinj(
    tmp_path: Path, scenario: Path, *extra: str, password: str = PASSWORD
) -> tuple[subprocess.Popen[str], int]:
    pw = tmp_path / "sim-password"
    pw.write_text(password + "\n")
    sim = spawn(
        "simulate", "impinj-iot", "--port", "0", "--scenario", str(scenario), "--password-file", str(pw), *extra
    )
    assert sim.stderr is not None
    for line in sim.stderr:
        match = re.search(r"impinj-iot simulator listening on 127\.0\.0\.1:(\d+)", line)
        if match:
            return sim, int(match.group(1))
    raise AssertionError(f"simulator did not start: exit {sim.wait(5)}")


def impinj_reader(
    tmp_path: Path, name: str, url: str, *, password: str = PASSWORD, antennas: str = "[1, 2, 3, 4]", more: str = ""
) -> str:
    """One YAML flow mapping for ``readers``; the password goes to a file of its own."""
    pw = tmp_path / f"{name}.password"
    pw.write_text(password + "\n")
    insecure = ", insecure_http: true" if url.startswith("http://") else ""
    return (
        f"{{name: {name}, type: impinj-iot, url: '{url}'{insecure}, password_file: {pw}, antennas: {antennas}, "
        f"keepalive: 1s, reconnect_delay_min: 200ms, reconnect_delay_max: 2s, refused_retry: 2s{more}}}"
    )


def site(tmp_path: Path, broker: int, readers: list[str], read_points: list[str], depart_after: str = "1s") -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        "gateway: {id: gw-test}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker}, topic_prefix: dockgate}}\n"
        "readers:\n" + "".join(f"  - {r}\n" for r in readers) + "locations:\n  - name: dock-3\n"
        f"    read_points: [{', '.join(read_points)}]\n"
        f"pipeline: {{arrive_min_reads: 2, arrive_window: 1s, depart_after: {depart_after}}}\n"
        f"outbox: {{path: {tmp_path / 'outbox.db'}}}\n"
    )
    return path


def statuses(sub: Subscriber, reader: str) -> list[dict[str, Any]]:
    return [json.loads(p) for p in sub.on_topic(f"dockgate/gw-test/readers/{reader}/status")]


def every_pallet_in_and_out(scenario: Path) -> set[tuple[str, str]]:
    return {(v.epc, kind) for v in load_scenario(scenario).truth() for kind in ("arrived", "departed")}


def run_until_events(config: Path, sub: Subscriber, expected: set[tuple[str, str]], timeout: float = 40) -> str:
    gateway = spawn("run", "--config", str(config))
    try:
        wait_until(
            lambda: {(e["epc"], e["type"]) for e in sub.events()} >= expected, timeout, "every arrival and departure"
        )
    finally:
        code, log = stop(gateway)
    assert code == 0, log
    return log


def test_default_scenario_over_http_every_pallet_arrives_and_departs(
    tmp_path: Path, mosquitto: Broker, subscribe: type[Subscriber]
) -> None:
    scenario = default_scenario_path()
    sim, port = start_impinj(tmp_path, scenario, "--speed", "2")
    sub = subscribe("dockgate/#")
    config = site(
        tmp_path,
        mosquitto.port,
        [impinj_reader(tmp_path, "r700-3", f"http://127.0.0.1:{port}")],
        ["{reader: r700-3, antennas: [1, 2, 3, 4]}"],
    )
    expected = every_pallet_in_and_out(scenario)
    log = run_until_events(config, sub, expected)
    _, sim_log = stop(sim)

    events = sub.events()
    assert {(e["epc"], e["type"]) for e in events} == expected  # nothing more: no phantom, no double count
    assert len(events) == len(expected)
    assert all(e["reader"] == "r700-3" and e["location"] == "dock-3" for e in events)
    assert all(set(e["antennas"]) <= {1, 2, 3, 4} and e["reads"] >= 2 for e in events)
    assert all(-80 < e["rssi_max"] < -30 for e in events)  # dBm, as LLRP's: peakRssiCdbm / 100
    seen = [s["state"] for s in statuses(sub, "r700-3")]
    assert "connected" in seen and seen[-1] == "disconnected", seen
    assert statuses(sub, "r700-3")[-1]["detail"] == "stopped"
    assert 'event=profile_started reader=r700-3 profile="transient inventory"' in log, log
    assert "event=profile_stopped reader=r700-3" in log  # the profile is stopped on shutdown...
    assert "starts=1 stops=1" in sim_log  # ...and the reader saw it
    assert PASSWORD not in log and PASSWORD not in sim_log
    assert not any(PASSWORD.encode() in m.payload for m in sub.messages)  # nor in a status or an event


def test_https_with_a_test_ca_and_a_preset(tmp_path: Path, mosquitto: Broker, subscribe: type[Subscriber]) -> None:
    pki = make_pki(tmp_path / "pki")
    sim, port = start_impinj(
        tmp_path, QUICK, "--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key), "--preset", "dock-door"
    )
    sub = subscribe("dockgate/#")
    reader = impinj_reader(
        tmp_path, "r700-3", f"https://localhost:{port}", more=f", ca_file: {pki.ca.cert}, preset: dock-door"
    )
    config = site(tmp_path, mosquitto.port, [reader], ["{reader: r700-3, antennas: [1, 2, 3, 4]}"])
    log = run_until_events(config, sub, every_pallet_in_and_out(QUICK))
    _, sim_log = stop(sim)
    assert 'event=profile_started reader=r700-3 profile="preset dock-door"' in log
    assert "profile started: dock-door" in sim_log
    assert PASSWORD not in log


def test_https_with_the_wrong_ca_is_a_clear_status_and_no_reads(
    tmp_path: Path, mosquitto: Broker, subscribe: type[Subscriber]
) -> None:
    pki = make_pki(tmp_path / "pki")
    sim, port = start_impinj(
        tmp_path,
        QUICK,
        "--tls-cert",
        str(pki.server_from_other_ca.cert),
        "--tls-key",
        str(pki.server_from_other_ca.key),
    )
    sub = subscribe("dockgate/#")
    reader = impinj_reader(tmp_path, "r700-3", f"https://localhost:{port}", more=f", ca_file: {pki.ca.cert}")
    config = site(tmp_path, mosquitto.port, [reader], ["{reader: r700-3, antennas: [1, 2, 3, 4]}"])
    gateway = spawn("run", "--config", str(config))
    try:
        wait_until(
            lambda: any("CERTIFICATE_VERIFY_FAILED" in s["detail"] for s in statuses(sub, "r700-3")),
            20,
            "a status naming the certificate problem",
        )
    finally:
        code, log = stop(gateway)
        stop(sim)
    assert code == 0, log
    assert "event=reconnect reader=r700-3" in log and "certificate verify failed" in log
    assert sub.events() == []


def _door_events(sub: Subscriber) -> set[tuple[str, str, str, str, tuple[int, ...]]]:
    return {(e["epc"], e["type"], e["location"], e["reader"], tuple(e["antennas"])) for e in sub.events()}


def test_one_door_llrp_beside_impinj_iot_gives_the_same_events_as_two_llrp_readers(
    tmp_path: Path, mosquitto: Broker, subscribe: type[Subscriber]
) -> None:
    """quick.yaml: pallet-a passes antennas 1-2 (portal-a's read point), pallet-b antennas 3-4 (portal-b's)."""
    points = ["{reader: portal-a, antennas: [1, 2]}", "{reader: portal-b, antennas: [3, 4]}"]
    expected = every_pallet_in_and_out(QUICK)
    results = []
    for mixed in (True, False):
        run_dir = tmp_path / ("mixed" if mixed else "llrp")
        run_dir.mkdir()
        llrp_a, port_a = start_simulator(QUICK)
        if mixed:
            sim_b, port_b = start_impinj(run_dir, QUICK)
            reader_b = impinj_reader(run_dir, "portal-b", f"http://127.0.0.1:{port_b}", antennas="[3, 4]")
        else:
            sim_b, port_b = start_simulator(QUICK)
            reader_b = f"{{name: portal-b, type: llrp, host: 127.0.0.1, port: {port_b}, antennas: [3, 4]}}"
        reader_a = f"{{name: portal-a, type: llrp, host: 127.0.0.1, port: {port_a}, antennas: [1, 2]}}"
        sub = subscribe("dockgate/gw-test/events/#")
        try:
            run_until_events(site(run_dir, mosquitto.port, [reader_a, reader_b], points), sub, expected)
        finally:
            stop(llrp_a)
            stop(sim_b)
        results.append(_door_events(sub))  # events are not retained: the next run's subscriber sees its own
    mixed_events, llrp_events = results
    assert {(epc, kind) for epc, kind, *_ in mixed_events} == expected
    assert mixed_events == llrp_events
