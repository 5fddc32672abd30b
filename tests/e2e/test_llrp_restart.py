"""The gateway keeps reading when the reader (simulator process) is killed and comes back 60 s later."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, Broker, Subscriber, free_port, wait_until
from tests.e2e.test_e2e import spawn, start_simulator, stop

QUICK = REPO / "simulators" / "llrp" / "examples" / "quick.yaml"
OUTAGE_S = 60.0
BACKOFF_MAX_S = 5.0
BOUND_S = BACKOFF_MAX_S + 15.0  # one backoff step plus the scenario's first arrival, with a generous margin


@pytest.mark.timeout(OUTAGE_S + 90)
def test_reading_resumes_after_the_reader_is_killed_and_back_60s_later(tmp_path: Path, mosquitto: Broker) -> None:
    port = free_port()
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"""\
gateway: {{id: gw-test}}
mqtt: {{host: 127.0.0.1, port: {mosquitto.port}}}
readers:
  - {{name: portal-3, type: llrp, host: 127.0.0.1, port: {port}, antennas: [1, 2, 3, 4],
      keepalive: 1s, reconnect_delay_max: {BACKOFF_MAX_S}s}}
locations:
  - name: dock-3
    read_points: [{{reader: portal-3}}]
pipeline: {{depart_after: 1s}}
outbox: {{path: {tmp_path / "outbox.db"}}}
"""
    )
    sub = Subscriber(mosquitto, "dockgate/#")
    sim, _ = start_simulator(QUICK, "--loop", "--port", str(port))
    gateway = spawn("run", "--config", str(config))
    try:

        def arrivals() -> int:
            return sum(1 for e in sub.events() if e["type"] == "arrived")

        def state() -> str:
            payloads = sub.on_topic("dockgate/gw-test/readers/portal-3/status")
            return str(json.loads(payloads[-1])["state"]) if payloads else ""

        wait_until(lambda: arrivals() > 0, 20, "arrivals before the outage")
        sim.send_signal(signal.SIGKILL)
        sim.communicate()
        wait_until(lambda: state() in ("disconnected", "connecting"), 2 * 1.0 + 10, "the gateway to notice")
        time.sleep(OUTAGE_S)
        before = arrivals()
        sim, _ = start_simulator(QUICK, "--loop", "--port", str(port))
        back = time.monotonic()
        wait_until(lambda: arrivals() > before, BOUND_S, f"arrivals within {BOUND_S}s of the reader's return")
        print(f"reading again {time.monotonic() - back:.1f}s after the reader came back")
        assert state() == "connected"
    finally:
        code, log = stop(gateway)
        stop(sim)
        sub.close()
    assert code == 0, log
    assert "event=reconnect" in log
