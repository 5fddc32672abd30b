"""A restart neither announces a pallet still at the door a second time nor forgets one that left."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Broker, Subscriber, free_port, wait_until
from tests.e2e.test_e2e import spawn, start_simulator, stop

LONG_VISIT = """\
name: long-visit
read_rate: 8
pallets:
  - name: staged
    location: dock-3
    tags:
      - sgtin: {company_prefix: "0614141", item_reference: "812345", serial: 1, count: 3}
    visits:
      - {start: 0.2s, end: 60s, antennas: {1: -50, 2: -55}}
"""


def config(tmp_path: Path, broker: int, reader: int) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"""\
gateway: {{id: gw-rp}}
mqtt: {{host: 127.0.0.1, port: {broker}, reconnect_delay_max: 1s}}
readers:
  - {{name: portal-3, type: llrp, host: 127.0.0.1, port: {reader}, antennas: [1, 2, 3, 4], keepalive: 1s}}
locations:
  - name: dock-3
    read_points: [{{reader: portal-3}}]
pipeline: {{depart_after: 3s}}
outbox: {{path: {tmp_path / "outbox.db"}}}
metrics: {{listen: off}}
"""
    )
    return path


@pytest.mark.parametrize("how", ["sigterm", "kill"])
def test_a_pallet_still_present_is_not_announced_again(
    tmp_path: Path, mosquitto: Broker, subscribe: type[Subscriber], how: str
) -> None:
    scenario = tmp_path / "long.yaml"
    scenario.write_text(LONG_VISIT)
    sub = subscribe("dockgate/gw-rp/events/#")
    sim, port = start_simulator(scenario)
    cfg = config(tmp_path, mosquitto.port, port)
    first = spawn("run", "--config", str(cfg))
    try:
        wait_until(lambda: len([e for e in sub.events() if e["type"] == "arrived"]) == 3, 30, "three arrivals")
        if how == "kill":
            first.kill()
        else:
            first.send_signal(signal.SIGTERM)
        first.communicate(timeout=20)
        second = spawn("run", "--config", str(cfg))
        try:
            # the simulator serves the new connection: the same tags are read again at once
            wait_until(lambda: "event=presence_restored tags=3" in "".join(_stderr_so_far(second)), 20, "restore")
            time.sleep(6)  # longer than depart_after: any second arrival or a departure would be out by now
        finally:
            code, _ = stop(second)
        assert code == 0
    finally:
        stop(sim)
    # a kill -9 may leave the last event in flight: it is sent again, same id and seq (a duplicate, not a
    # second arrival)
    unique = {e["id"]: e for e in sub.events()}
    kinds = [e["type"] for e in unique.values()]
    assert kinds.count("arrived") == 3, [(e["seq"], e["type"], e["epc"]) for e in unique.values()]
    assert "departed" not in kinds


def test_a_pallet_that_left_while_the_gateway_was_down_departs(
    tmp_path: Path, mosquitto: Broker, subscribe: type[Subscriber]
) -> None:
    scenario = tmp_path / "long.yaml"
    scenario.write_text(LONG_VISIT)
    sub = subscribe("dockgate/gw-rp/events/#")
    sim, port = start_simulator(scenario)
    cfg = config(tmp_path, mosquitto.port, port)
    first = spawn("run", "--config", str(cfg))
    wait_until(lambda: len([e for e in sub.events() if e["type"] == "arrived"]) == 3, 30, "three arrivals")
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=20)
    stop(sim)  # the pallet goes while the gateway is down: the reader is gone too
    cfg.write_text(cfg.read_text().replace(f"port: {port}", f"port: {free_port()}"))
    second = spawn("run", "--config", str(cfg))
    try:
        wait_until(lambda: len([e for e in sub.events() if e["type"] == "departed"]) == 3, 20, "three departures")
    finally:
        code, _ = stop(second)
    assert code == 0
    arrived = {e["epc"]: e for e in sub.events() if e["type"] == "arrived"}
    for event in (e for e in sub.events() if e["type"] == "departed"):
        assert event["epc"] in arrived
        assert event["first_seen"] == arrived[event["epc"]]["first_seen"]
        assert event["time"] == event["last_seen"] and event["last_seen"] >= arrived[event["epc"]]["time"]


_buffers: dict[int, list[str]] = {}


def _stderr_so_far(process: subprocess.Popen[str]) -> list[str]:
    """Lines the child wrote to stderr so far (read without blocking)."""
    lines = _buffers.setdefault(process.pid, [])
    assert process.stderr is not None
    fd = process.stderr.fileno()
    while select.select([fd], [], [], 0)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        lines.append(chunk.decode(errors="replace"))
    return lines
