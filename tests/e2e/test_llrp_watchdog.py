"""The no-read watchdog: a reader that answers and reads nothing for ``no_reads_after`` is ``idle`` in its
status (retained on MQTT) and in /metrics, gets one corrective step, and is ``connected`` again once tags
are read. In process (timing) and end to end (`dockgate run`, the simulator process, mosquitto)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from simulators.llrp.scenario import scenario_from_dict
from simulators.llrp.server import LLRPSimulator
from tests.conftest import Broker, Subscriber, free_port, wait_until
from tests.e2e.test_e2e import spawn, start_simulator, stop
from tests.e2e.test_ops import get, metric, write_config
from tests.llrp_harness import EPC, Collected, make_driver
from tests.unit.test_contract import validator_for

NO_READS_AFTER_S = 1.0
TAG_FROM_S = 4.0  # the dock door is empty for the first 4 s of inventory
SCENARIO = f"""\
name: empty-then-pallet
duration: 10m
pallets:
  - name: pallet-1
    location: door-portal-3
    tags: [{{epc: "{EPC}"}}]
    visits: [{{start: {TAG_FROM_S}s, end: 8s, antennas: {{1: -50, 2: -55}}}}]
"""


def test_idle_within_no_reads_after_then_connected_when_reads_begin() -> None:
    collected = Collected()
    scenario = scenario_from_dict(
        {
            "duration": "10m",
            "pallets": [
                {
                    "name": "p",
                    "location": "dock-3",
                    "tags": [{"epc": EPC}],
                    "visits": [{"start": f"{TAG_FROM_S}s", "end": "8s", "antennas": {1: -50}}],
                }
            ],
        }
    )
    sim = LLRPSimulator(scenario)
    sim.start()
    d = make_driver(sim.port, collected, no_reads_after=NO_READS_AFTER_S)
    d.start()
    try:
        wait_until(lambda: collected.status_seen("idle"), NO_READS_AFTER_S + 3, "idle")
        wait_until(lambda: len(collected.reads) > 0, TAG_FROM_S + 3, "reads once the pallet comes")
        wait_until(lambda: (collected.last_status() or (0, ""))[1] == "connected", 2, "connected again")
    finally:
        d.stop()
        sim.stop()
    statuses = collected.statuses
    started = next(t for t, state, detail, _ in statuses if detail == "starting inventory")
    went_idle = next(t for t, state, _, _ in statuses if state == "idle")
    assert went_idle - started <= NO_READS_AFTER_S + 0.5, went_idle - started  # + the 50 ms tick, + margin
    idle_details = [detail for _, state, detail, _ in statuses if state == "idle"]
    assert any("ROSpec active" in detail for detail in idle_details), idle_details  # the corrective step's answer
    assert not collected.status_seen("disconnected", "ROSpec")  # an Active ROSpec: no reconnect
    first_read = collected.reads[0][0]
    back = next(t for t, state, _, _ in statuses if t >= went_idle and state == "connected")
    assert back - first_read <= 0.5


def test_idle_in_the_retained_status_and_in_metrics_and_back(tmp_path: Path, mosquitto: Broker) -> None:
    scenario = tmp_path / "empty-then-pallet.yaml"
    scenario.write_text(SCENARIO)
    sim, port = start_simulator(scenario)
    metrics_port = free_port()
    config = write_config(tmp_path, mosquitto.port, [("portal-3", port)], metrics_port)
    config.write_text(
        config.read_text().replace("keepalive: 1s}", f"keepalive: 1s, no_reads_after: {NO_READS_AFTER_S}s}}")
    )
    sub = Subscriber(mosquitto, "dockgate/#")
    topic = "dockgate/gw-ops/readers/portal-3/status"
    scrapes: list[tuple[float, float | None, float | None]] = []  # (time, idle, connected)
    done = threading.Event()

    def scrape_often() -> None:
        while not done.is_set():
            text = get(metrics_port, "/metrics")[1]
            if text:
                scrapes.append(
                    (
                        time.monotonic(),
                        metric(text, "dockgate_reader_idle", reader="portal-3"),
                        metric(text, "dockgate_reader_connected", reader="portal-3"),
                    )
                )
            done.wait(0.1)

    gateway = spawn("run", "--config", str(config))
    scraper = threading.Thread(target=scrape_often, name="scraper", daemon=True)
    scraper.start()

    def states() -> list[str]:
        return [json.loads(p)["state"] for p in sub.on_topic(topic)]

    try:
        wait_until(lambda: "idle" in states(), 20, "idle in the retained status")
        wait_until(lambda: any(idle == 1 for _, idle, _ in scrapes), 5, "dockgate_reader_idle 1")
        wait_until(
            lambda: states()[-1:] == ["connected"] and "arrived" in {e["type"] for e in sub.events()}, 20, "back"
        )
        wait_until(lambda: scrapes[-1][1] == 0, 5, "dockgate_reader_idle 0")
        text = get(metrics_port, "/metrics")[1]
    finally:
        done.set()
        scraper.join()
        code, log = stop(gateway)
        stop(sim)
        sub.close()
    assert code == 0, log
    assert metric(text, "dockgate_reader_idle_episodes_total", reader="portal-3") == 1
    assert all(connected == 1 for _, idle, connected in scrapes if idle == 1)  # idle is connected, answering
    statuses = [json.loads(p) for p in sub.on_topic(topic)]
    for status in statuses:
        validator_for("readerStatus").validate(status)  # docs/event.schema.json, idle included
    idle_status = next(s for s in statuses if s["state"] == "idle")
    assert "no tag report for" in idle_status["detail"], idle_status
    assert "event=no_reads reader=portal-3" in log and "event=reads_resumed reader=portal-3" in log
    assert "event=reconnect" not in log
