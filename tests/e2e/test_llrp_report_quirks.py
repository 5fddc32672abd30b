"""Report-side vendor behaviours (``--quirk``) end to end: the simulator process with the quirk over TCP,
`dockgate run` as a child process, a real mosquitto; every pallet of the scenario arrives and departs.
Also what the quirks do to a plain client, so a test of the gateway through them means something."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from drivers.llrp import setup, wire
from drivers.llrp.settings import LLRPReaderSettings
from simulators.llrp import frames as f
from simulators.llrp.report_quirks import reported_epc_hex
from simulators.llrp.scenario import load_scenario
from simulators.llrp.server import LLRPSimulator
from tests.conftest import Broker, Subscriber, wait_until
from tests.e2e.test_e2e import QUICK, gateway_config, spawn, start_simulator, stop
from tests.llrp_harness import steady_scenario


def _reports_within(port: int, report_n: int, seconds: float) -> int:
    """RO_ACCESS_REPORTs a plain client gets in ``seconds`` from a ROSpec whose ROReportSpec says N."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    parser = f.FrameParser()
    settings = LLRPReaderSettings(name="raw", type="llrp", host="127.0.0.1", antennas=[1, 2])
    spec = setup.rospec(settings, setup.Capabilities(), setup.Inventory(0, None, None))
    spec["ROReportSpec"]["N"] = report_n
    spec["ROBoundarySpec"]["ROSpecStartTrigger"]["ROSpecStartTriggerType"] = "Immediate"
    try:
        parser.feed(sock.recv(65536))  # the ConnectionAttemptEvent: the reader has taken this client
        sock.sendall(wire.encode("ADD_ROSPEC", 1, {"ROSpecID": 1, "ROSpec": spec}))
        sock.sendall(wire.encode("ENABLE_ROSPEC", 2, {"ROSpecID": 1}))
        reports = 0
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            reports += sum(1 for frame in parser.feed(data) if frame.msg_type == f.RO_ACCESS_REPORT)
        return reports
    finally:
        sock.close()


def test_a_reader_that_reports_at_rospec_end_holds_reports_unless_the_roreportspec_says_n() -> None:
    for report_n, reports in ((0, False), (20, True)):
        # a simulator each: a reader may refuse a second client while it still holds the first one's session
        sim = LLRPSimulator(steady_scenario(), quirks=["reports-at-rospec-end"])
        sim.start()
        try:
            # without N, the AISpec's own trigger is not enough for this reader
            assert (_reports_within(sim.port, report_n, 1.5) > 0) is reports, report_n
        finally:
            sim.stop()


@pytest.mark.parametrize(
    "quirk", ["reports-at-rospec-end", "epcdata-mixed", "vendor-custom-params", "error-on-events-and-reports"]
)
def test_every_pallet_through_a_reader_with(quirk: str, tmp_path: Path, mosquitto: Broker) -> None:
    sim, port = start_simulator(QUICK, "--quirk", quirk)
    sub = Subscriber(mosquitto, "dockgate/#")
    gateway = spawn("run", "--config", str(gateway_config(tmp_path, mosquitto.port, port)))
    truth = load_scenario(QUICK).truth()
    expected = {(reported_epc_hex(v.epc, [quirk]), kind) for v in truth for kind in ("arrived", "departed")}
    try:
        wait_until(lambda: {(e["epc"], e["type"]) for e in sub.events()} >= expected, 30, "all events")
    finally:
        code, log = stop(gateway)
        _, sim_log = stop(sim)
        sub.close()
    assert code == 0, log
    assert {(e["epc"], e["type"]) for e in sub.events()} == expected
    assert "Traceback" not in log and "Traceback" not in sim_log
    if quirk == "epcdata-mixed":
        assert {len(epc) for epc, _ in expected} == {24, 32, 124}  # 96-, 128- and 496-bit EPCs in one run
