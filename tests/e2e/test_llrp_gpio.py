"""GPI gating, the no-read exception and GPO outputs, end to end over LLRP: `dockgate run` and the
simulator as child processes, mosquitto in between."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from tests.conftest import Broker, Subscriber, wait_until
from tests.e2e.test_e2e import spawn, start_simulator, stop

EPC = "3034257BF7194E4000001A85"
# The scenario restarts at 0 on every ROSpec start, i.e. on every GPI window. The tag is in the field
# from 1.0 s to 3.0 s of each window.
SCENARIO = f"""\
name: gpio
duration: 10m
pallets:
  - name: pallet-1
    location: dock-3
    tags: [{{epc: "{EPC}"}}]
    visits: [{{start: 1s, end: 3s, antennas: {{1: -50, 2: -55}}}}]
"""


def gateway_config(tmp_path: Path, broker: Broker, reader_port: int) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"""\
gateway: {{id: gw-test}}
mqtt: {{host: 127.0.0.1, port: {broker.port}}}
readers:
  - name: portal-3
    type: llrp
    host: 127.0.0.1
    port: {reader_port}
    antennas: [1, 2]
    keepalive: 1s
    reconnect_delay_max: 1s
    gpi: {{port: 1, linger: 200ms}}
    gpo:
      arrived: {{port: 1, pulse: 300ms}}
      exception: {{port: 2, pulse: 300ms}}
locations:
  - name: dock-3
    read_points: [{{reader: portal-3}}]
pipeline: {{arrive_min_reads: 2, arrive_window: 1s, depart_after: 1s}}
outbox: {{path: {tmp_path / "outbox.db"}}}
"""
    )
    return path


class Lines:
    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)  # type: ignore[arg-type]
        self._thread.start()


def test_gpi_gates_reading_no_read_exception_and_gpo_pulses(tmp_path: Path, mosquitto: Broker) -> None:
    scenario = tmp_path / "gpio.yaml"
    scenario.write_text(SCENARIO)
    # window 1: 300 ms + 200 ms linger = scenario 0..0.5 s, before the tag comes: no read
    # window 2: 3 s + 200 ms linger = scenario 0..3.2 s: the tag arrives
    sim, port = start_simulator(scenario, "--gpi", "1@2s+300ms", "--gpi", "1@5s+3s")
    sim_log = Lines(sim.stderr)
    sub = Subscriber(mosquitto, "dockgate/#")
    gateway = spawn("run", "--config", str(gateway_config(tmp_path, mosquitto, port)))
    try:

        def events() -> list[dict[str, object]]:
            return sub.events()  # each one validated against docs/event.schema.json

        def kinds() -> list[str]:
            return [str(e["type"]) for e in events()]

        wait_until(lambda: {"exception", "arrived", "departed"} <= set(kinds()), 30, "exception, arrived, departed")
        wait_until(lambda: sum("event=gpo" in line for line in sim_log.lines) >= 4, 10, "GPO on and off twice")
    finally:
        code, log = stop(gateway)
        stop(sim)
        sub.close()
    assert code == 0, log
    evs = events()
    exceptions = [e for e in evs if e["type"] == "exception"]
    assert len(exceptions) == 1, evs
    assert exceptions[0]["reason"] == "no_read" and exceptions[0]["location"] == "dock-3"
    assert exceptions[0]["reader"] == "portal-3"
    assert kinds().index("exception") < kinds().index("arrived")  # the empty window came first
    assert {e["epc"] for e in evs if e["type"] in ("arrived", "departed")} == {EPC}

    # gating: the ROSpec ran exactly twice, each time right after the GPI went high
    lines = sim_log.lines
    starts = [i for i, line in enumerate(lines) if "event=rospec_started" in line]
    gpi_high = [i for i, line in enumerate(lines) if "event=gpi port=1 state=1" in line]
    assert len(starts) == 2 and len(gpi_high) == 2, "\n".join(lines)
    assert all(g < s for g, s in zip(gpi_high, starts, strict=True))
    assert not any("event=rospec_started" in line for line in lines[: gpi_high[0]])

    # GPO: exception -> port 2 pulse, arrived -> port 1 pulse, in that order, each on then off
    gpo = [tuple(map(int, m.groups())) for line in lines if (m := re.search(r"event=gpo port=(\d+) state=(\d)", line))]
    assert gpo[:4] == [(2, 1), (2, 0), (1, 1), (1, 0)], gpo
