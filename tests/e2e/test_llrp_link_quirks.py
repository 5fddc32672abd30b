"""Connection-side reader behaviours (``--quirk``) end to end: the simulator process with the quirk over
TCP, `dockgate run`, a real mosquitto, and every pallet of ``quick.yaml`` arriving and departing.

- ``no-keepalives``: a quiet reader is probed (GET_READER_CONFIG), not called dead;
- ``stale-session=S``: refused as held by another client for S seconds, then connected, with backoff;
- ``reboot-after=S``: the connection drops, connections are refused, the reader comes back empty and the
  gateway sets it up again by itself.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from simulators.llrp.link_quirks import REBOOT_DOWN_S
from simulators.llrp.scenario import load_scenario
from tests.conftest import Broker, Subscriber, wait_until
from tests.e2e.test_e2e import QUICK, gateway_config, spawn, start_simulator, stop

KEEPALIVE_S = 0.5
TOPIC = "dockgate/gw-test/readers/portal-3/status"


def run_through(
    tmp_path: Path, mosquitto: Broker, quirk: str, reader: str = "", after_s: float = 0.0
) -> tuple[str, str, list[dict[str, object]]]:
    """The gateway reads the quick scenario through a simulator with ``quirk``; every pallet must arrive
    and depart. Returns the gateway's log, the simulator's log and the retained statuses seen."""
    sim, port = start_simulator(QUICK, "--quirk", quirk)
    config = gateway_config(tmp_path, mosquitto.port, port)
    head = "antennas: [1, 2, 3, 4]}"
    if reader:
        config.write_text(config.read_text().replace(head, f"antennas: [1, 2, 3, 4], {reader}}}", 1))
    sub = Subscriber(mosquitto, "dockgate/#")
    gateway = spawn("run", "--config", str(config))
    truth = load_scenario(QUICK).truth()
    expected = {(v.epc, kind) for v in truth for kind in ("arrived", "departed")}
    try:
        wait_until(lambda: {(e["epc"], e["type"]) for e in sub.events()} >= expected, 40, "all events")
        wait_until(lambda: json.loads(sub.on_topic(TOPIC)[-1])["detail"] == "inventorying", 10, "inventorying")
        time.sleep(after_s)
        statuses = [json.loads(p) for p in sub.on_topic(TOPIC)]
    finally:
        code, log = stop(gateway)
        _, sim_log = stop(sim)
        sub.close()
    assert code == 0, log
    assert {(e["epc"], e["type"]) for e in sub.events()} >= expected
    assert "session_crashed" not in log, log
    return log, sim_log, statuses


def test_a_reader_without_keepalives_is_probed_not_reconnected(tmp_path: Path, mosquitto: Broker) -> None:
    # Keepalives every 0.5 s asked for; the scenario's pallets leave at 4.5 s, and the reader stays quiet
    # for several more seconds: the old watchdog called that a dead link after 1 s and reconnected.
    log, sim_log, statuses = run_through(
        tmp_path, mosquitto, "no-keepalives", f"keepalive: {KEEPALIVE_S}s, response_timeout: 2s", after_s=3.0
    )
    assert "event=keepalives_missing reader=portal-3" in log, log
    assert log.count("event=keepalives_missing") == 1
    assert 'detail="probing with GET_READER_CONFIG every 0.5s of silence' in log, log
    assert "event=reconnect" not in log, log
    assert sim_log.count("event=client_connected") == 1, sim_log
    assert all(s["state"] != "disconnected" for s in statuses), statuses


def test_a_stale_session_is_reported_and_the_reader_connected_once_freed(tmp_path: Path, mosquitto: Broker) -> None:
    hold_s = 3.0
    log, sim_log, statuses = run_through(tmp_path, mosquitto, f"stale-session={hold_s:g}s")
    refused = sim_log.count("reason=stale_session")
    # backoff from 0.5 s doubling (+ up to 0.5 s jitter): at most 4 attempts inside 3 s, never a storm
    assert 1 <= refused <= 4, sim_log
    assert sim_log.count("event=client_connected") == 1, sim_log
    assert log.count("event=reader_held reader=portal-3") == 1, log
    assert "a Client initiated connection already exists" in log  # the status, as sllurp names it
    assert "event=reader_freed reader=portal-3" in log, log
    assert log.count("event=reconnect ") == refused, log
    # MQTT may connect after the first refusals; the log has the status the board published
    assert 'detail="another client holds the reader' in log, log
    assert statuses[-1]["state"] == "connected"


def test_a_reader_that_reboots_mid_inventory_is_set_up_again(tmp_path: Path, mosquitto: Broker) -> None:
    log, sim_log, statuses = run_through(tmp_path, mosquitto, "reboot-after=1.5s")
    assert "event=reboot " in sim_log and "event=rebooted" in sim_log, sim_log
    assert sim_log.count("event=client_connected") == 2, sim_log  # before and after, nothing in between
    assert "the reader closed the connection" in log, log
    assert log.count("event=inventory_confirmed") >= 2, log  # set up from scratch: ROSpec added, started
    reconnects = log.count("event=reconnect ")
    assert 1 <= reconnects <= 2 + int(REBOOT_DOWN_S), log  # backoff while it boots, no storm
    assert statuses[-1]["state"] == "connected" and statuses[-1]["detail"] == "inventorying"
