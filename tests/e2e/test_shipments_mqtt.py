"""Shipments posted over MQTT, loaded through the simulator (`dockgate run`, the simulator process, a real
mosquitto): exceptions while it happens, the verdict at close, the retained door status, the replies
on the MQTT 5 response topic with their correlation data, refusals, and a kill -9 in the middle."""

from __future__ import annotations

import json
import re
import signal
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.ops.net import free_port
from simulators.llrp.scenario import load_scenario
from tests.conftest import Broker, Subscriber, wait_until
from tests.e2e.test_e2e import QUICK, spawn, stop

COMMANDS = "dockgate/gw-test/commands/shipments"
DOOR = "dockgate/gw-test/doors/dock-3/status"
TRUTH = load_scenario(QUICK).truth()
PALLET_A = sorted({v.epc for v in TRUTH if v.pallet == "pallet-a"})
PALLET_B = sorted({v.epc for v in TRUTH if v.pallet == "pallet-b"})
NEVER_THERE = "3034257BF7194E4000009999"


class CommandClient:
    """A back office: sends commands with a response topic and correlation data, collects the replies."""

    def __init__(self, broker: Broker) -> None:
        self.replies: dict[bytes, dict[str, Any]] = {}
        self._lock = threading.Lock()
        ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.on_connect = lambda c, *_: c.subscribe("backoffice/replies", qos=1)
        self.client.on_subscribe = lambda *_: ready.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert ready.wait(10)
        self._n = 0

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.replies[bytes(message.properties.CorrelationData)] = json.loads(message.payload)

    def send(self, payload: bytes | dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        self._n += 1
        correlation = f"req-{self._n}".encode()
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = "backoffice/replies"
        props.CorrelationData = correlation
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.client.publish(COMMANDS, body, qos=1, properties=props)
        wait_until(lambda: correlation in self.replies, timeout, f"reply to {body[:60]!r}")
        return self.replies[correlation]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def config(tmp_path: Path, broker_port: int, reader_port: int) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"""\
gateway: {{id: gw-test}}
mqtt: {{host: 127.0.0.1, port: {broker_port}, topic_prefix: dockgate, protocol: "5"}}
readers:
  - {{name: portal-3, type: llrp, host: 127.0.0.1, port: {reader_port}, antennas: [1, 2, 3, 4],
     reconnect_delay_max: 1s}}
  - {{name: portal-4, type: llrp, host: 127.0.0.1, port: {free_port()}, antennas: [1]}}  # a door next to it
locations:
  - name: dock-3
    read_points: [{{reader: portal-3, antennas: [1, 2, 3, 4]}}]
    lights: {{reader: portal-3, loading: {{port: 1}}, verified: {{port: 2, pulse: 1s}}, exception: {{port: 3}}}}
  - name: dock-4
    read_points: [{{reader: portal-4}}]
pipeline: {{arrive_min_reads: 2, arrive_window: 1s, depart_after: 1s}}
outbox: {{path: {tmp_path / "outbox.db"}}}
metrics: {{listen: off}}
"""
    )
    return path


def door(sub: Subscriber) -> dict[str, Any]:
    payloads = sub.on_topic(DOOR)
    return json.loads(payloads[-1]) if payloads else {}


def test_a_load_with_one_case_missing_and_one_wrong_pallet(tmp_path: Path, mosquitto: Broker) -> None:
    reader_port = free_port()
    sub = Subscriber(mosquitto, "dockgate/#")
    gateway = spawn("run", "--config", str(config(tmp_path, mosquitto.port, reader_port)))
    office = CommandClient(mosquitto)
    sim = None
    try:
        # the door's first status comes after the gateway has subscribed to the command topic
        wait_until(lambda: door(sub).get("state") == "idle", 15, "the gateway on the broker")
        order = {"id": "S-100", "location": "dock-3", "direction": "out", "items": [*PALLET_A, NEVER_THERE]}
        reply = office.send({"command": "post", "shipment": order})
        assert (reply["result"], reply["id"], reply["shipment"]["state"]) == ("accepted", "S-100", "open")
        wait_until(lambda: door(sub).get("shipment") == "S-100", 10, "the door shows the shipment")
        assert (door(sub)["state"], door(sub)["expected"], door(sub)["seen"]) == ("open", 5, 0)

        # refusals, each with its reply naming the field; nothing changes
        assert office.send(b"{not json")["result"] == "refused"
        dup = office.send({"command": "post", "shipment": order})
        assert (dup["result"], dup["field"]) == ("refused", "id")
        busy = office.send({"command": "post", "shipment": {**order, "id": "S-101"}})
        assert (busy["result"], busy["field"]) == ("refused", "location")
        bad = office.send({"command": "post", "shipment": {**order, "id": "S-102", "items": ["pallet!"]}})
        assert (bad["result"], bad["field"]) == ("refused", "shipment.items.0")
        unknown = office.send({"command": "post", "shipment": {**order, "id": "S-103", "location": "dock-9"}})
        assert (unknown["result"], unknown["field"]) == ("refused", "location")
        assert office.send({"command": "close", "id": "S-999"})["result"] == "refused"

        sim = spawn("simulate", "llrp", "--port", str(reader_port), "--scenario", str(QUICK))
        wait_until(
            lambda: {e["epc"] for e in sub.events() if e["type"] == "departed"} >= set(PALLET_A + PALLET_B),
            30,
            "both pallets through the door",
        )
        events = sub.events()
        arrivals = {e["epc"]: e for e in events if e["type"] == "arrived"}
        unexpected = [e for e in events if e["type"] == "exception" and e.get("reason") == "unexpected_item"]
        assert sorted(e["epc"] for e in unexpected) == PALLET_B
        for e in unexpected:  # at once: stored in the same turn as the arrival, with its time
            assert e["shipment"] == "S-100" and e["seq"] > arrivals[e["epc"]]["seq"]
            assert e["time"] == arrivals[e["epc"]]["time"]
        assert all(arrivals[epc].get("shipment") == "S-100" for epc in PALLET_A)
        assert all("shipment" not in arrivals[epc] for epc in PALLET_B)
        wait_until(lambda: door(sub).get("seen") == 4, 5, "progress on the door status")
        assert door(sub)["state"] == "loading" and door(sub)["missing"] == [NEVER_THERE]

        closed = office.send({"command": "close", "id": "S-100"})
        assert closed["result"] == "accepted"
        wait_until(lambda: any(e["type"] == "shipment_exception" for e in sub.events()), 5, "the verdict")
        (verdict,) = [e for e in sub.events() if e["type"] == "shipment_exception"]
        assert verdict["missing"] == [NEVER_THERE]
        assert sorted(u["epc"] for u in verdict["unexpected"]) == PALLET_B
        assert (verdict["seen"], verdict["expected"], verdict["wrong_door"]) == (4, 5, [])
        wait_until(lambda: door(sub).get("state") == "exception", 5, "the door shows the exception")
        assert office.send({"command": "acknowledge", "id": "S-100"})["result"] == "accepted"
        wait_until(lambda: door(sub).get("state") == "idle", 5, "idle once acknowledged")
    finally:
        office.close()
        code, log = stop(gateway)
        sim_log = stop(sim)[1] if sim is not None else ""
        sub.close()
    assert code == 0, log
    assert "event=shipment_closed" in log and "verdict=exception" in log
    # the light stack as the reader saw it: amber while loading (switched on when the reader connected,
    # the shipment being open already), then amber off and red on at the exception, red off when acknowledged
    writes = re.findall(r"event=gpo port=(\d) state=(\d)", sim_log)
    assert writes[:4] == [("1", "1"), ("1", "0"), ("3", "1"), ("3", "0")], writes
    seqs = [e["seq"] for e in sub.events()]
    assert len(seqs) == len(set(seqs))


def test_killed_in_the_middle_of_a_load_it_goes_on_counting_and_counts_nothing_twice(
    tmp_path: Path, mosquitto: Broker
) -> None:
    reader_port = free_port()
    path = config(tmp_path, mosquitto.port, reader_port)
    sub = Subscriber(mosquitto, "dockgate/#")
    gateway = spawn("run", "--config", str(path))
    office = CommandClient(mosquitto)
    sim = None
    try:
        # the door's first status comes after the gateway has subscribed to the command topic
        wait_until(lambda: door(sub).get("state") == "idle", 15, "the gateway on the broker")
        order = {
            "id": "S-200",
            "location": "dock-3",
            "direction": "out",
            "items": PALLET_A + PALLET_B,
            "close_after": "10s",
        }
        assert office.send({"command": "post", "shipment": order})["result"] == "accepted"
        sim = spawn("simulate", "llrp", "--port", str(reader_port), "--scenario", str(QUICK), "--speed", "0.5")
        wait_until(lambda: door(sub).get("seen", 0) >= 4, 20, "pallet a counted")
        gateway.send_signal(signal.SIGKILL)
        gateway.wait(10)
        seen_at_kill = door(sub)["seen"]
        assert seen_at_kill < 7, "pallet b passed before the kill: the test did not kill in the middle"
        gateway = spawn("run", "--config", str(path))  # the simulator plays the scenario again from the start
        wait_until(lambda: any(e["type"] == "shipment_verified" for e in sub.events()), 40, "the verdict")
    finally:
        office.close()
        code, log = stop(gateway)
        if sim is not None:
            stop(sim)
        sub.close()
    assert code == 0, log
    assert "event=shipments_restored shipments=1 open=1" in log
    (verdict,) = [e for e in sub.events() if e["type"] == "shipment_verified"]
    assert (verdict["seen"], verdict["expected"], verdict["missing"]) == (7, 7, [])
