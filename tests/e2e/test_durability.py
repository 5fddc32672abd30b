"""Durability under faults, with real parts only: mosquitto started and stopped by the test, the LLRP
simulator over TCP, and `dockgate run` as a child process.

What a consumer may rely on (README, docs/asyncapi.yaml): every ``seq`` from the first to the last
arrives; a ``seq`` is delivered for the first time in increasing order; a duplicate is an exact copy
(same ``id``, same content) of an event that was in flight; ``seq`` never goes back.
"""

from __future__ import annotations

import getpass
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.conftest import REPO, Broker, Subscriber, _mosquitto, free_port, wait_for_port, wait_until
from tests.e2e.test_e2e import gateway_config, start_simulator, stop

MAX_INFLIGHT = 100  # mqtt.max_inflight: the gateway's default


# --- the parts ------------------------------------------------------------------------------------------


def dense_scenario(tmp_path: Path, pallets: int = 8, tags: int = 4) -> Path:
    """A steady stream from the first second: pallet i passes at 0.4 * i s for 0.8 s, every 4 s with --loop.

    About 16 events/s with ``depart_after: 500ms``. A tag is silent for 3.2 s between loops, so every
    loop gives one arrival and one departure per tag.
    """
    scenario = {
        "name": "dense",
        "read_rate": 10,
        "rssi_noise_db": 1.0,
        "seed": 3,
        "duration": "4s",
        "pallets": [
            {
                "name": f"pallet-{i + 1}",
                "location": "dock-3",
                "tags": [
                    {"sgtin": {"company_prefix": "0614141", "item_reference": f"8{i:05d}", "serial": 1, "count": tags}}
                ],
                "visits": [
                    {
                        "start": round(0.4 * i, 1),
                        "end": round(0.4 * i + 0.8, 1),
                        "antennas": {1 + i % 4: -55, 1 + (i + 1) % 4: -60},
                    }
                ],
            }
            for i in range(pallets)
        ],
    }
    path = tmp_path / "dense.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


def config_for(tmp_path: Path, broker_port: int, reader_port: int, mqtt_extra: str = "") -> Path:
    """tests.test_e2e's gateway config, with departures after 500 ms and extra ``mqtt`` settings."""
    path = gateway_config(tmp_path, broker_port, reader_port, depart_after="500ms")
    if mqtt_extra:
        # Merged as YAML, so an extra setting replaces the base config's own (reconnect_delay_max is in both).
        data = yaml.safe_load(path.read_text())
        data["mqtt"].update(yaml.safe_load("{" + mqtt_extra + "}"))
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_gateway(config: Path, log: Path) -> subprocess.Popen[str]:
    """``dockgate run`` logging to a file: a pipe nobody reads would stall it after a few hundred events."""
    with open(log, "w") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--config", str(config)],
            cwd=REPO,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )


def stop_gateway(process: subprocess.Popen[str], log: Path) -> str:
    """SIGTERM, and the run must end cleanly: exit 0."""
    code, _ = stop(process, signal.SIGTERM)
    text = log.read_text()
    assert code == 0, f"gateway exited {code}:\n{text[-4000:]}"
    return text


def outbox_state(path: Path) -> tuple[int, int]:
    """(events waiting, last seq given) as stored, read beside the running gateway."""
    if not path.exists():
        return 0, 0
    db = sqlite3.connect(path, timeout=5)
    try:
        pending = int(db.execute("SELECT count(*) FROM events").fetchone()[0])
        row = db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
        return pending, int(row[0]) if row else 0
    except sqlite3.OperationalError:  # the gateway has not created the tables yet
        return 0, 0
    finally:
        db.close()


def start_persistent_mosquitto(tmp_path: Path) -> Broker:
    """A broker that keeps sessions (subscriptions, queued messages) across its own restart."""
    port = free_port()
    store = tmp_path / "mosquitto-store"
    store.mkdir()
    conf = tmp_path / "mosquitto-persistent.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
        # as root, mosquitto would switch to the user "mosquitto", which cannot write the store in
        # pytest's private tmp folder: persistence would silently fail and the session be lost
        f"user {getpass.getuser()}\n"
        f"persistence true\npersistence_location {store}/\nautosave_interval 1\n"
        f"log_dest file {tmp_path / 'mosquitto.log'}\nlog_type all\n"
    )
    process = subprocess.Popen([_mosquitto(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    broker = Broker("127.0.0.1", port, process, conf)
    wait_for_port(port)
    return broker


class DurableConsumer(Subscriber):
    """A consumer with a persistent session (clean start off, session expiry 1 h), as a real one should
    be: the broker keeps its subscription and queues events for it while it is away, also across a
    broker restart (the broker persists sessions). paho reconnects it within a second."""

    def __init__(self, broker: Broker, topic: str) -> None:
        self.messages: list[paho.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.connects = 0
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="durable-consumer", protocol=paho.MQTTv5)
        self.client.reconnect_delay_set(0.1, 1.0)

        def on_connect(client: paho.Client, _u: Any, flags: Any, _rc: Any, _p: Any) -> None:
            self.connects += 1
            if not flags.session_present:
                client.subscribe(topic, qos=1)

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect(broker.host, broker.port, clean_start=False, properties=props)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("consumer did not subscribe")

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def seqs(self) -> set[int]:
        with self._lock:
            payloads = [m.payload for m in self.messages if "/events/" in m.topic]
        return {json.loads(p)["seq"] for p in payloads}


def check_delivery(events: list[dict[str, Any]], last_seq: int, window: int) -> dict[str, int]:
    """The consumer's contract, over everything it received in arrival order.

    Every seq 1..last_seq at least once; first deliveries strictly increasing; a repeat is an exact copy
    of the first delivery and at most ``window`` below the highest seq seen by then (it was in flight).
    """
    first: dict[int, dict[str, Any]] = {}
    top = 0
    duplicates = 0
    for event in events:
        seq = event["seq"]
        if seq in first:
            duplicates += 1
            assert event == first[seq], f"seq {seq} delivered again with different content:\n{first[seq]}\n{event}"
            assert seq > top - window, f"seq {seq} repeated after seq {top}: more than {window} back, not in flight"
            continue
        assert seq > top, f"seq {seq} delivered for the first time after seq {top}: out of order"
        first[seq] = event
        top = seq
    missing = sorted(set(range(1, last_seq + 1)) - set(first))
    assert not missing, f"{len(missing)} seq never delivered, e.g. {missing[:20]} (last_seq {last_seq})"
    assert top == last_seq, f"delivered up to seq {top}, the outbox gave up to {last_seq}"
    ids = [e["id"] for e in first.values()]
    assert len(set(ids)) == len(ids), "two seqs carry the same id"
    return {"events": len(first), "duplicates": duplicates}


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Child processes to kill if a test fails half-way (a clean path stops them itself)."""
    made: list[subprocess.Popen[str]] = []
    yield made
    for process in made:
        if process.poll() is None:
            process.kill()
            process.communicate()


# --- a. the broker away for a full minute ---------------------------------------------------------------


@pytest.mark.timeout(240)
def test_broker_away_for_a_minute_loses_nothing(tmp_path: Path, processes: list[subprocess.Popen[str]]) -> None:
    broker = start_persistent_mosquitto(tmp_path)
    consumer = DurableConsumer(broker, "dockgate/gw-test/events/#")
    sim, reader_port = start_simulator(dense_scenario(tmp_path), "--loop")
    processes.append(sim)
    outbox = tmp_path / "outbox.db"
    log = tmp_path / "gateway.log"
    gateway = run_gateway(config_for(tmp_path, broker.port, reader_port, "reconnect_delay_max: 5s"), log)
    processes.append(gateway)
    try:
        wait_until(lambda: consumer.count() >= 50, 30, "the first events")
        broker.stop()  # SIGTERM: mosquitto saves the consumer's session
        _, seq_at_stop = outbox_state(outbox)
        outage_s = 60.0
        time.sleep(outage_s)
        assert gateway.poll() is None, log.read_text()[-4000:]
        stored, seq_at_restart = outbox_state(outbox)
        assert seq_at_restart - seq_at_stop >= 500, "the stream did not go on while the broker was away"
        assert stored >= seq_at_restart - seq_at_stop - MAX_INFLIGHT, "the outbox did not keep the events"

        restarted = time.monotonic()
        broker.restart()
        wait_until(lambda: max(consumer.seqs()) > seq_at_restart, 30, "delivery after the broker came back")
        reconnect_s = time.monotonic() - restarted
        wait_until(lambda: outbox_state(outbox)[0] < MAX_INFLIGHT, 30, "the outbox to drain")
    finally:
        stop(sim)
    text = stop_gateway(gateway, log)
    pending, last_seq = outbox_state(outbox)
    try:
        assert pending == 0, text[-4000:]
        assert "event=stopped pending=0" in text
        try:
            wait_until(lambda: len(consumer.seqs()) >= last_seq, 60, f"every seq up to {last_seq} at the consumer")
        except AssertionError:
            missing = sorted(set(range(1, last_seq + 1)) - consumer.seqs())
            raise AssertionError(
                f"the consumer lacks {len(missing)} seqs: {missing[:40]}; consumer connects {consumer.connects}; "
                f"seq at stop {seq_at_stop}, at restart {seq_at_restart}\n"
                + "".join(
                    line
                    for line in (tmp_path / "mosquitto.log").read_text(errors="replace").splitlines(keepends=True)
                    if "durable-consumer" in line or "ersist" in line or "Restor" in line or "aving" in line
                )[-6000:]
            ) from None
        counts = check_delivery(consumer.events(everything=True), last_seq, window=MAX_INFLIGHT)
    finally:
        consumer.close()
        broker.stop()
    assert consumer.connects >= 2
    print(
        f"\noutage {outage_s:.0f}s: {seq_at_restart - seq_at_stop} events during the outage, "
        f"{counts['events']} delivered, {counts['duplicates']} duplicates, first new event {reconnect_s:.1f}s "
        "after the broker restarted"
    )


# --- b. kill -9, twenty times, at random moments --------------------------------------------------------

KILLS = 20
STORED = re.compile(r"event=stored type=(?:arrived|departed|static) seq=(\d+) location=")


@pytest.mark.timeout(180)
def test_kill_9_twenty_times_loses_nothing_and_seq_never_goes_back(
    tmp_path: Path, mosquitto: Broker, subscribe: type[Subscriber], processes: list[subprocess.Popen[str]]
) -> None:
    seed = int(os.environ.get("DURABILITY_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    sub = subscribe("dockgate/gw-test/#")
    sim, reader_port = start_simulator(dense_scenario(tmp_path), "--loop")
    processes.append(sim)
    config = config_for(tmp_path, mosquitto.port, reader_port)
    outbox = tmp_path / "outbox.db"
    after_kill: list[int] = []  # last seq committed when each run died
    stored_by_run: list[list[int]] = []  # seqs each run logged as stored
    opened_at: list[int] = []  # last_seq each run found when it opened the outbox
    try:
        for run in range(KILLS):
            log = tmp_path / f"gateway-{run}.log"
            gateway = run_gateway(config, log)
            processes.append(gateway)
            time.sleep(rng.uniform(0.5, 3.0))
            gateway.send_signal(signal.SIGKILL)
            gateway.wait(10)
            after_kill.append(outbox_state(outbox)[1])
            text = log.read_text()
            stored_by_run.append(
                [int(s) for s in re.findall(r"event=stored type=(?:arrived|departed|static) seq=(\d+) location=", text)]
            )
            opened = re.search(r"event=opened pending=\d+ last_seq=(\d+)", text)
            if opened:
                opened_at.append(int(opened.group(1)))
    finally:
        stop(sim)

    # a final clean run with the reader gone: it only drains the outbox
    log = tmp_path / "gateway-final.log"
    gateway = run_gateway(config, log)
    processes.append(gateway)
    wait_until(lambda: "event=started" in log.read_text(), 20, "the gateway to start")
    time.sleep(4)  # > depart_after: the tags the last run knew present and that are not read any more depart
    wait_until(lambda: outbox_state(outbox)[0] == 0, 30, "the outbox to drain")
    text = stop_gateway(gateway, log)
    pending, last_seq = outbox_state(outbox)
    assert pending == 0 and "event=stopped pending=0" in text
    # with no reader, the final run makes only the departures of tags restored as present
    final = re.findall(r"event=stored type=(arrived|departed|static) seq=(\d+) location=", text)
    assert all(kind == "departed" for kind, _ in final), final
    assert last_seq == after_kill[-1] + len(final)

    where = f"(seed {seed}; DURABILITY_SEED={seed} repeats the kill moments)"
    productive = sum(1 for seqs in stored_by_run if seqs)
    assert productive >= KILLS // 2, f"only {productive} of {KILLS} runs stored events before the kill {where}"
    # c. seq never goes back across restarts
    assert after_kill == sorted(after_kill), f"last_seq went back after a kill: {after_kill} {where}"
    previous = 0
    for run, seqs in enumerate(stored_by_run):
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"run {run} stored seqs out of order {where}"
        if seqs:
            assert seqs[0] > previous, f"run {run} stored seq {seqs[0]}, at or below {previous} {where}"
            previous = seqs[-1]
    assert opened_at == sorted(opened_at), f"a run opened the outbox with a lower last_seq: {opened_at} {where}"

    every_event = sub.events  # with reports: one at the top of the hour takes a seq like any event
    wait_until(lambda: len({e["seq"] for e in every_event(True)}) >= last_seq, 30, f"every seq up to {last_seq}")
    counts = check_delivery(every_event(True), last_seq, window=MAX_INFLIGHT)
    print(f"\n{KILLS} kills {where}: {counts['events']} events, {counts['duplicates']} duplicates")


# --- the outbox benchmark runs --------------------------------------------------------------------------


def test_outbox_benchmark_runs_with_tiny_sizes() -> None:
    tiny = ["--events", "20", "--drain-events", "200", "--inflight", "50", "--json"]
    run = subprocess.run(
        [sys.executable, "-m", "gateway.bench.throughput.outbox", *tiny],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert [w["batch"] for w in result["writes"]] == [1, 10, 100]
    assert all(w["events"] >= 20 and w["events_per_s"] > 0 for w in result["writes"])
    (drain,) = result["drain"]
    assert drain["events"] == 200 and drain["max_inflight"] == 50 and drain["seconds"] >= 0
