"""A shipment over the HTTP API of a running gateway (`dockgate run`, the simulator process, a real
mosquitto): posted by an operator's token, watched by a viewer's, loaded through the simulator and
verified; /metrics on the same listener; the refusals a hostile or mistaken client gets."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from gateway.ops.net import free_port
from simulators.llrp.scenario import load_scenario
from tests.conftest import Broker, Subscriber, wait_until
from tests.e2e.test_e2e import QUICK, spawn, stop

TRUTH = load_scenario(QUICK).truth()
EPCS = sorted({v.epc for v in TRUTH})
OPERATOR, VIEWER = "op-7d1f0c2a9b", "view-51e8a3"


def call(base: str, method: str, path: str, token: str | None, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    return status, json.loads(raw) if raw.startswith((b"{", b"[")) else raw.decode()


def ready(base: str) -> bool:
    try:
        return call(base, "GET", "/readyz", None)[0] == 200
    except (urllib.error.URLError, ConnectionError):
        return False  # not listening yet


def state(base: str, shipment: str) -> str:
    return str(call(base, "GET", f"/api/v1/shipments/{shipment}", VIEWER)[1]["state"])


def test_a_shipment_posted_over_http_is_verified_and_refusals_say_why(tmp_path: Path, mosquitto: Broker) -> None:
    reader_port, http_port = free_port(), free_port()
    for name, token in (("op", OPERATOR), ("view", VIEWER)):
        (tmp_path / f"{name}.token").write_text(token + "\n")
        os.chmod(tmp_path / f"{name}.token", 0o600)
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"""\
gateway: {{id: gw-test}}
mqtt: {{host: 127.0.0.1, port: {mosquitto.port}, topic_prefix: dockgate}}
readers:
  - {{name: portal-3, type: llrp, host: 127.0.0.1, port: {reader_port}, antennas: [1, 2, 3, 4],
     reconnect_delay_max: 1s}}
locations:
  - name: dock-3
    read_points: [{{reader: portal-3}}]
pipeline: {{arrive_min_reads: 2, arrive_window: 1s, depart_after: 1s}}
outbox: {{path: {tmp_path / "outbox.db"}}}
metrics: {{listen: "127.0.0.1:{http_port}"}}
api:
  tokens:
    - {{name: backoffice, file: {tmp_path / "op.token"}, role: operator}}
    - {{name: door-screen, file: {tmp_path / "view.token"}, role: viewer}}
"""
    )
    base = f"http://127.0.0.1:{http_port}"
    sub = Subscriber(mosquitto, "dockgate/#")
    gateway = spawn("run", "--config", str(config))
    sim = None
    order = {"id": "SO-77", "location": "dock-3", "direction": "in", "items": EPCS, "close_after": "3s"}
    try:
        wait_until(lambda: ready(base), 15, "the gateway ready")
        assert call(base, "POST", "/api/v1/shipments", None, order)[0] == 401
        assert call(base, "POST", "/api/v1/shipments", "wrong-token", order)[0] == 401
        assert call(base, "POST", "/api/v1/shipments", VIEWER, order)[0] == 403
        status, bad = call(base, "POST", "/api/v1/shipments", OPERATOR, {**order, "items": ["no-epc"]})
        assert (status, bad["result"], bad["field"]) == (422, "refused", "items.0")
        status, reply = call(base, "POST", "/api/v1/shipments", OPERATOR, order)
        assert (status, reply["result"], reply["shipment"]["expected"]) == (201, "accepted", len(EPCS))
        assert call(base, "POST", "/api/v1/shipments", OPERATOR, order)[0] == 409  # the same id again
        status, door = call(base, "GET", "/api/v1/doors/dock-3", VIEWER)
        assert (status, door["state"], door["shipment"]) == (200, "open", "SO-77")
        assert call(base, "GET", "/api/v1/doors/dock-9", VIEWER)[0] == 404

        sim = spawn("simulate", "llrp", "--port", str(reader_port), "--scenario", str(QUICK))
        wait_until(lambda: state(base, "SO-77") == "verified", 30, "verified")
        _, shipment = call(base, "GET", "/api/v1/shipments/SO-77", VIEWER)
        assert (shipment["seen"], shipment["missing"], shipment["close_reason"]) == (len(EPCS), [], "close_after")
        wait_until(lambda: any(e["type"] == "shipment_verified" for e in sub.events()), 5, "the verdict event")
        status, metrics = call(base, "GET", "/metrics", None)
        assert status == 200
        assert 'dockgate_shipment_commands_total{action="post",result="accepted",source="http"} 1.0' in metrics
        assert 'dockgate_shipment_commands_total{action="post",result="refused",source="http"} 1.0' in metrics
    finally:
        code, log = stop(gateway)
        if sim is not None:
            stop(sim)
        sub.close()
    assert code == 0, log
    assert OPERATOR not in log and VIEWER not in log and "wrong-token" not in log
    assert "event=shipment_command action=post result=accepted source=http actor=backoffice" in log
