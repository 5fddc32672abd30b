"""End to end: `dockgate simulate scanner --pty` -> `dockgate run` -> mosquitto, with unplug and replug."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, Broker, Subscriber, wait_until
from tests.e2e.test_e2e import spawn, stop


def start_scanner(link: Path) -> tuple[subprocess.Popen[str], str]:
    sim = subprocess.Popen(
        [sys.executable, "-m", "gateway", "simulate", "scanner", "--pty", "--link", str(link), "--terminator", "CRLF"],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert sim.stdout is not None
    path = sim.stdout.readline().strip()
    assert path, f"simulator printed no path: exit {sim.poll()}"
    return sim, path


def send(sim: subprocess.Popen[str], *lines: str) -> None:
    assert sim.stdin is not None
    sim.stdin.write("".join(line + "\n" for line in lines))
    sim.stdin.flush()


def test_scanned_events_and_unplug_replug_over_a_pty(
    tmp_path: Path, mosquitto: Broker, subscribe: type[Subscriber]
) -> None:
    sim, path = start_scanner(tmp_path / "scanner")
    assert path == str(tmp_path / "scanner") and os.path.realpath(path).startswith("/dev/pts/")
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"""\
gateway: {{id: gw-test}}
mqtt: {{host: 127.0.0.1, port: {mosquitto.port}, topic_prefix: dockgate}}
readers:
  - {{name: scanner-1, type: serial, port: {path}, terminator: CRLF, reconnect_delay_max: 0.5}}
locations:
  - name: dock-3
    read_points: [{{reader: scanner-1}}]
outbox: {{path: {tmp_path / "outbox.db"}}}
"""
    )
    sub = subscribe("dockgate/#")
    status_topic = "dockgate/gw-test/readers/scanner-1/status"

    def states() -> list[str]:
        return [json.loads(p)["state"] for p in sub.on_topic(status_topic)]

    def scanned() -> list[dict[str, object]]:
        return [e for e in sub.events() if e["type"] == "scanned"]

    gateway = spawn("run", "--config", str(config))
    try:
        wait_until(lambda: states()[-1:] == ["connected"], 20, "scanner connected")
        send(sim, "]C100106141412345678908", "]C100106141412345678908", "]d20180614141123458<GS>216789")
        wait_until(lambda: len(scanned()) == 2, 20, "two scanned events")
        send(sim, "!unplug")
        wait_until(lambda: states()[-1:] == ["disconnected"], 20, "scanner disconnected")
        send(sim, "!sleep 0.5", "!replug")
        wait_until(lambda: states()[-1:] == ["connected"], 20, "scanner connected again")
        send(sim, "]C0AFTER-REPLUG")
        wait_until(lambda: len(scanned()) == 3, 20, "scanned event after replug")
    finally:
        code, log = stop(gateway)
        stop(sim)
    assert code == 0, log
    first, second, third = scanned()
    assert first["uri"] == "urn:epc:id:sscc:0614141.1234567890"
    assert first["barcode"] == {
        "data": "00106141412345678908",
        "symbology": "gs1-128",
        "aim": "]C1",
        "gs1": {"00": "106141412345678908"},
    }
    assert first["location"] == "dock-3" and first["reader"] == "scanner-1" and first["gateway"] == "gw-test"
    assert second["uri"] == "urn:epc:id:sgtin:0614141.812345.6789"
    assert second["barcode"]["gs1"] == {"01": "80614141123458", "21": "6789"}  # GS as FNC1
    assert third["barcode"]["symbology"] == "code-128" and third["uri"] is None
    assert [e["seq"] for e in (first, second, third)] == [1, 2, 3]
    # published on change, after the broker connection: "connecting" may be over before it is seen
    assert [s for s in states() if s != "connecting"] == ["connected", "disconnected", "connected", "disconnected"]
    assert {m.topic for m in sub.messages if "/events/" in m.topic} == {"dockgate/gw-test/events/dock-3"}
