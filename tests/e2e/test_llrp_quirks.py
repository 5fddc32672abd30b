"""Vendor behaviours of the simulator (``--quirk``) that the gateway must read through: each with the
in-process driver and end to end (`dockgate run`, the simulator process, mosquitto)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from drivers.llrp import setup, wire
from drivers.llrp.rospec import GET_ROSPECS, rospec_states
from drivers.llrp.settings import LLRPReaderSettings
from simulators.llrp import frames as f
from simulators.llrp.scenario import load_scenario
from simulators.llrp.server import LLRPSimulator
from tests.conftest import Broker, Subscriber, wait_until
from tests.e2e.test_e2e import QUICK, gateway_config, spawn, start_simulator, stop
from tests.llrp_harness import Collected, make_driver, steady_scenario


class RawClient:
    """Just enough of a client to see what the simulator does with an Immediate start trigger."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.frames = f.FrameParser()
        self.got: list[f.Frame] = []
        self.next_id = 100
        self.wait_for(f.READER_EVENT_NOTIFICATION)

    def wait_for(self, msg_type: int, timeout: float = 3.0) -> f.Frame | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.got:
                if frame.msg_type == msg_type:
                    self.got.remove(frame)
                    return frame
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                self.got.extend(self.frames.feed(self.sock.recv(65536)))
            except TimeoutError:
                break
        return None

    def request(self, name: str, fields: dict[str, Any] | None, answer: int) -> f.Frame:
        self.next_id += 1
        self.sock.sendall(wire.encode(name, self.next_id, fields))
        frame = self.wait_for(answer)
        assert frame is not None, f"no answer to {name}"
        return frame

    def state(self) -> int:
        self.next_id += 1
        self.sock.sendall(wire.HEADER.pack((1 << 10) | GET_ROSPECS, 10, self.next_id))
        frame = self.wait_for(f.GET_ROSPECS_RESPONSE)
        assert frame is not None
        return rospec_states(f.HEADER.pack((1 << 10) | frame.msg_type, 10 + len(frame.body), 0) + frame.body)[1]


@pytest.mark.parametrize("quirks", [(), ("start-needs-start-rospec",)])
def test_simulator_quirk_an_immediate_rospec_waits_for_start_rospec(quirks: tuple[str, ...]) -> None:
    sim = LLRPSimulator(steady_scenario(), quirks=quirks)
    sim.start()
    client = RawClient(sim.port)
    try:
        settings = LLRPReaderSettings(name="raw", type="llrp", host="127.0.0.1", antennas=[1, 2])
        spec = setup.rospec(settings, setup.Capabilities(), setup.Inventory(0, None, None))
        spec["ROBoundarySpec"]["ROSpecStartTrigger"]["ROSpecStartTriggerType"] = "Immediate"
        client.request("ADD_ROSPEC", {"ROSpecID": 1, "ROSpec": spec}, f.ADD_ROSPEC_RESPONSE)
        client.request("ENABLE_ROSPEC", {"ROSpecID": 1}, f.ENABLE_ROSPEC_RESPONSE)
        if not quirks:
            assert client.state() == 2  # Active: started on ENABLE_ROSPEC, as LLRP says
            assert client.wait_for(f.RO_ACCESS_REPORT) is not None
            return
        assert client.state() == 1  # Inactive: enabled, not started
        assert client.wait_for(f.RO_ACCESS_REPORT, 0.5) is None
        client.request("START_ROSPEC", {"ROSpecID": 1}, f.START_ROSPEC_RESPONSE)
        assert client.state() == 2
        assert client.wait_for(f.RO_ACCESS_REPORT) is not None
    finally:
        client.sock.close()
        sim.stop()


def test_driver_starts_a_reader_that_waits_for_start_rospec_and_says_so_only_once_confirmed() -> None:
    collected = Collected()
    sim = LLRPSimulator(steady_scenario(), quirks=["start-needs-start-rospec"])
    sim.start()
    d = make_driver(sim.port, collected)
    d.start()
    try:
        wait_until(lambda: len(collected.reads) > 0, 5, "reads from a reader that needs START_ROSPEC")
        wait_until(lambda: collected.status_seen("connected", "inventorying"), 5, "inventorying")
    finally:
        d.stop()
        sim.stop()
    details = [detail for _, state, detail, _ in collected.statuses if state == "connected"]
    assert details.index("starting inventory") < details.index("inventorying"), details
    assert not collected.status_seen("disconnected", "ROSpec")


def test_every_pallet_through_a_reader_that_waits_for_start_rospec(tmp_path: Path, mosquitto: Broker) -> None:
    sim, port = start_simulator(QUICK, "--quirk", "start-needs-start-rospec")
    sub = Subscriber(mosquitto, "dockgate/#")
    gateway = spawn("run", "--config", str(gateway_config(tmp_path, mosquitto.port, port)))
    truth = load_scenario(QUICK).truth()
    expected = {(v.epc, kind) for v in truth for kind in ("arrived", "departed")}
    try:
        wait_until(lambda: {(e["epc"], e["type"]) for e in sub.events()} >= expected, 30, "all events")
        topic = "dockgate/gw-test/readers/portal-3/status"
        wait_until(lambda: json.loads(sub.on_topic(topic)[-1])["detail"] == "inventorying", 5, "inventorying")
    finally:
        code, log = stop(gateway)
        _, sim_log = stop(sim)
        sub.close()
    assert code == 0, log
    assert {(e["epc"], e["type"]) for e in sub.events()} == expected
    assert sim_log.count("event=rospec_started") == 1  # by the driver's START_ROSPEC
    assert "event=inventory_confirmed" in log
    # the retained status may skip "starting inventory" (MQTT may connect later); the log has both, in order
    assert 0 <= log.index('detail="starting inventory"') < log.index("detail=inventorying"), log
