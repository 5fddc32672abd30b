"""End to end, with real parts only: mosquitto on a free port, the LLRP simulator over TCP, and
`dockgate run` as a child process."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from simulators.llrp.scenario import load_scenario
from tests.conftest import REPO, Broker, Subscriber, free_port, start_mosquitto, wait_until

QUICK = REPO / "simulators" / "llrp" / "examples" / "quick.yaml"
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def gateway_config(tmp_path: Path, broker_port: int, reader_port: int, depart_after: str = "1s") -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"""\
gateway: {{id: gw-test}}
mqtt: {{host: 127.0.0.1, port: {broker_port}, topic_prefix: dockgate, reconnect_delay_max: 2s}}
readers:
  - {{name: portal-3, type: llrp, host: 127.0.0.1, port: {reader_port}, antennas: [1, 2, 3, 4]}}
locations:
  - name: dock-3
    read_points: [{{reader: portal-3, antennas: [1, 2, 3, 4]}}]
pipeline: {{arrive_min_reads: 2, arrive_window: 1s, depart_after: {depart_after}}}
outbox: {{path: {tmp_path / "outbox.db"}}}
"""
    )
    return path


def spawn(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_simulator(scenario: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    sim = spawn("simulate", "llrp", "--port", "0", "--scenario", str(scenario), *extra)
    assert sim.stderr is not None
    for line in sim.stderr:
        match = re.search(r"llrp simulator listening on 127\.0\.0\.1:(\d+)", line)
        if match:
            return sim, int(match.group(1))
    raise AssertionError(f"simulator did not start: exit {sim.wait(5)}")


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 20) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # faulthandler dumps every thread's stack
        try:
            _, err = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        raise AssertionError(f"process did not stop within {timeout}s:\n{err}") from None
    return process.returncode, err


@pytest.fixture
def simulator() -> Iterator[int]:
    sim, port = start_simulator(QUICK)
    yield port
    stop(sim)


def test_every_pallet_arrives_and_departs_with_valid_fields(
    tmp_path: Path, mosquitto: Broker, subscribe: type[Subscriber], simulator: int
) -> None:
    sub = subscribe("dockgate/#")
    gateway = spawn("run", "--config", str(gateway_config(tmp_path, mosquitto.port, simulator)))
    truth = load_scenario(QUICK).truth()
    expected = {(v.epc, kind) for v in truth for kind in ("arrived", "departed")}
    try:
        wait_until(lambda: {(e["epc"], e["type"]) for e in sub.events()} >= expected, 30, "all events")
    finally:
        code, log = stop(gateway)
    assert code == 0, log

    events = sub.events()
    assert {(e["epc"], e["type"]) for e in events} == expected  # nothing more: no phantom, no double count
    assert len(events) == len(expected)
    seqs = [e["seq"] for e in sub.events(everything=True)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len({e["id"] for e in events}) == len(events)
    topics = {m.topic for m in sub.messages if "/events/" in m.topic}
    assert topics == {"dockgate/gw-test/events/dock-3"}
    pallet_antennas = {"pallet-a": {1, 2}, "pallet-b": {3, 4}}
    pallet_of = {v.epc: v.pallet for v in truth}
    for e in events:
        assert uuid.UUID(e["id"]).version == 4
        assert e["gateway"] == "gw-test" and e["location"] == "dock-3" and e["reader"] == "portal-3"
        assert re.fullmatch(r"[0-9A-F]{24}", e["epc"])
        assert set(e["antennas"]) <= pallet_antennas[pallet_of[e["epc"]]] and e["antennas"] == sorted(e["antennas"])
        assert e["reads"] >= 2
        assert isinstance(e["rssi_max"], int | float) and -80 < e["rssi_max"] < -30
        for field in ("time", "first_seen", "last_seen"):
            assert RFC3339_MS.match(e[field]), e[field]
        first = datetime.fromisoformat(e["first_seen"])
        last = datetime.fromisoformat(e["last_seen"])
        assert first <= datetime.fromisoformat(e["time"]) <= last
    for epc in {e["epc"] for e in events}:
        arrived, departed = (
            next(e for e in events if e["epc"] == epc and e["type"] == t) for t in ("arrived", "departed")
        )
        assert arrived["seq"] < departed["seq"]
        assert departed["reads"] > arrived["reads"]

    # availability: retained online while running, offline after a clean stop
    assert sub.on_topic("dockgate/gw-test/status") == [b"online", b"offline"]
    # each reader's state, retained, published on change only
    states = [json.loads(p) for p in sub.on_topic("dockgate/gw-test/readers/portal-3/status")]
    seen = [s["state"] for s in states]
    assert seen[-2:] == ["connected", "disconnected"], seen  # "connecting" may come before MQTT is up
    changes = [(s["state"], s["detail"]) for s in states]
    assert all(a != b for a, b in itertools.pairwise(changes)), changes  # published on change only
    assert all(s["reader"] == "portal-3" and RFC3339_MS.match(s["since"]) for s in states)
    assert "event=stopped pending=0" in log


def test_events_wait_in_the_outbox_while_the_broker_is_away(tmp_path: Path, simulator: int) -> None:
    broker_port = free_port()
    config = gateway_config(tmp_path, broker_port, simulator)
    gateway = spawn("run", "--config", str(config))
    truth = load_scenario(QUICK).truth()
    try:
        import sqlite3

        def stored() -> int:
            try:
                with sqlite3.connect(tmp_path / "outbox.db") as db:
                    return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
            except sqlite3.Error:
                return 0

        wait_until(lambda: stored() == 2 * len(truth), 30, "events stored in the outbox")
        broker = start_mosquitto(tmp_path, broker_port)
        try:
            sub = Subscriber(broker, "dockgate/gw-test/events/#")
            wait_until(lambda: len(sub.events()) == 2 * len(truth), 40, "delivery after the broker came")
            sub.close()
        finally:
            code, log = stop(gateway)
            broker.stop()
    finally:
        if gateway.poll() is None:
            gateway.kill()
    assert code == 0, log
    assert stored() == 0


def test_kill_9_then_restart_resends_unacknowledged_and_seq_goes_on(tmp_path: Path, simulator: int) -> None:
    broker_port = free_port()
    config = gateway_config(tmp_path, broker_port, simulator)
    truth = load_scenario(QUICK).truth()
    first = spawn("run", "--config", str(config))
    import sqlite3

    def stored_ids() -> list[tuple[int, str]]:
        try:
            with sqlite3.connect(tmp_path / "outbox.db") as db:
                return [(int(s), str(i)) for s, i in db.execute("SELECT seq, id FROM events ORDER BY seq")]
        except sqlite3.Error:
            return []

    wait_until(lambda: len(stored_ids()) == 2 * len(truth), 30, "events stored")
    before = stored_ids()
    first.kill()  # kill -9: no clean stop, nothing flushed beyond what was committed
    first.communicate()

    broker = start_mosquitto(tmp_path, broker_port)
    sub = Subscriber(broker, "dockgate/gw-test/#")
    second = spawn("run", "--config", str(config))
    try:
        # everything: a report at the top of the hour is stored and delivered like any event
        wait_until(lambda: len(sub.events(everything=True)) == len(before), 30, "the stored events after restart")
        delivered = [(e["seq"], e["id"]) for e in sub.events(everything=True)]
        assert delivered == before  # same seq, same id, in order
    finally:
        code, log = stop(second)
        sub.close()
        broker.stop()
    assert code == 0, log
    assert stored_ids() == []
    last_seq = before[-1][0]
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()[0] >= last_seq


def test_last_will_says_offline_when_the_gateway_dies(
    tmp_path: Path, mosquitto: Broker, subscribe: type[Subscriber]
) -> None:
    sub = subscribe("dockgate/gw-test/status")
    gateway = spawn("run", "--config", str(gateway_config(tmp_path, mosquitto.port, free_port())))
    wait_until(lambda: sub.payloads() == [b"online"], 20, "online")
    gateway.kill()
    gateway.communicate()
    wait_until(lambda: sub.payloads() == [b"online", b"offline"], 20, "the last will")
    # and it is retained: a newcomer sees offline
    late = subscribe("dockgate/gw-test/status")
    wait_until(lambda: late.payloads() == [b"offline"], 10, "retained offline")
    assert json.dumps(sub.payloads()[-1].decode()) == '"offline"'
