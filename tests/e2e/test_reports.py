"""Reports count exactly the events in their seq range: a real gateway (`dockgate run`) on the LLRP
simulator and a real mosquitto, pallets of two owners and of nobody's through two doors, a shipment at
one door, the gateway killed in the middle and started again on the same outbox; then
GET /api/v1/reports over the whole run is compared with every event the broker delivered."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gateway.domain.model import rfc3339
from gateway.ops.net import free_port
from simulators.llrp.scenario import load_scenario
from tests.conftest import Broker, Subscriber, wait_until
from tests.e2e.test_e2e import spawn, start_simulator, stop

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

OPERATOR, VIEWER, ACME = "op-3c9e1b7d", "view-8f2a6c", "acme-5d1e0b"
IN = {1: [-48, -55, -64], 2: [-51, -58, -65], 3: [-64, -55, -48], 4: [-65, -58, -51]}
OUT = {1: [-64, -55, -48], 2: [-65, -58, -51], 3: [-48, -55, -64], 4: [-51, -58, -65]}


def _pallet(name: str, door: int, prefix: str, item: str, start: float, direction: str) -> str:
    ramps = IN if direction == "in" else OUT
    shift = 0 if door == 3 else 4
    antennas = ", ".join(f"{a + shift}: {ramp}" for a, ramp in ramps.items())
    return f"""\
  - name: {name}
    location: dock-{door}
    tags:
      - sgtin: {{company_prefix: "{prefix}", item_reference: "{item}", serial: 1, count: 2, filter: 2}}
    visits:
      - {{start: {start}s, end: {start + 3}s, direction: {direction}, antennas: {{{antennas}}}}}
"""


SCENARIO = (
    """\
name: report-run
read_rate: 8
rssi_noise_db: 0
drop_rate: 0
seed: 5
duration: 16s
site:
  readers:
    - {name: portal, type: llrp, host: 127.0.0.1, antennas: [1, 2, 3, 4, 5, 6, 7, 8]}
  locations:
    - name: dock-3
      read_points:
        - {reader: portal, antennas: [1, 2], side: outside}
        - {reader: portal, antennas: [3, 4], side: inside}
    - name: dock-4
      read_points:
        - {reader: portal, antennas: [5, 6], side: outside}
        - {reader: portal, antennas: [7, 8], side: inside}
pallets:
"""
    + _pallet("acme-in", 3, "0614141", "812001", 1, "in")
    + _pallet("globex-out", 3, "0614142", "812002", 4, "out")
    + _pallet("globex-in", 4, "0614142", "812003", 2, "in")
    + _pallet("acme-out", 4, "0614141", "812004", 6, "out")
    + _pallet("nobody-in", 3, "0614199", "812005", 9, "in")
)


def _config(tmp_path: Path, broker: int, reader: int, http: int) -> Path:
    for name, token in (("op", OPERATOR), ("view", VIEWER), ("acme", ACME)):
        (tmp_path / f"{name}.token").write_text(token + "\n")
        os.chmod(tmp_path / f"{name}.token", 0o600)
    path = tmp_path / "gateway.yaml"
    points = (
        "[{{reader: portal, antennas: [{}, {}], side: outside}}, {{reader: portal, antennas: [{}, {}], side: inside}}]"
    )
    path.write_text(
        f"""\
gateway: {{id: gw-rep}}
mqtt: {{host: 127.0.0.1, port: {broker}, reconnect_delay_max: 1s}}
readers:
  - {{name: portal, type: llrp, host: 127.0.0.1, port: {reader}, antennas: [1, 2, 3, 4, 5, 6, 7, 8], keepalive: 1s}}
locations:
  - {{name: dock-3, read_points: {points.format(1, 2, 3, 4)}}}
  - {{name: dock-4, read_points: {points.format(5, 6, 7, 8)}}}
owners:
  - {{name: acme, company_prefixes: ["0614141"]}}
  - {{name: globex, company_prefixes: ["0614142"]}}
pipeline: {{arrive_min_reads: 2, arrive_window: 1s, depart_after: 1500ms}}
outbox: {{path: {tmp_path / "outbox.db"}}}
metrics: {{listen: "127.0.0.1:{http}"}}
api:
  tokens:
    - {{name: backoffice, file: {tmp_path / "op.token"}, role: operator}}
    - {{name: wallboard, file: {tmp_path / "view.token"}}}
    - {{name: acme-portal, file: {tmp_path / "acme.token"}, owner: acme}}
"""
    )
    return path


def call(base: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method="GET" if body is None else "POST")
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _ready(base: str) -> bool:
    try:
        urllib.request.urlopen(base + "/readyz", timeout=2).close()
    except (urllib.error.URLError, ConnectionError):
        return False
    return True


def _kinds(event: dict[str, Any]) -> list[str]:
    if event["type"] == "departed":
        return [{"in": "departed_in", "out": "departed_out"}.get(event["direction"], "departed_unknown")]
    if event["type"] == "exception":
        return [f"exception:{event['reason']}"]
    return [event["type"]]


def _counted(report: dict[str, Any]) -> Counter[str]:
    keys = ("arrived", "departed_in", "departed_out", "departed_unknown", "scanned")
    counts = Counter({k: report[k] for k in keys if report[k]})
    counts.update({"static": report["became_static"]} if report["became_static"] else {})
    counts.update({"shipment_verified": report["shipments_verified"]} if report["shipments_verified"] else {})
    counts.update({"shipment_exception": report["shipments_failed"]} if report["shipments_failed"] else {})
    counts.update({f"exception:{r}": n for r, n in report["exceptions"].items()})
    return counts


def test_report_counts_equal_the_events_in_their_seq_range_across_a_restart(tmp_path: Path, mosquitto: Broker) -> None:
    scenario = tmp_path / "report-run.yaml"
    scenario.write_text(SCENARIO)
    truth = load_scenario(scenario).truth()
    # the shipment at dock-3 expects acme-in and one case of acme-out, which passes dock-4 instead: a
    # wrong_door, then unexpected items at dock-3 and a failed verdict
    acme_out = next(v.epc for v in truth if v.pallet == "acme-out")
    items = [*sorted({v.epc for v in truth if v.pallet == "acme-in"}), acme_out]
    sub = Subscriber(mosquitto, "dockgate/gw-rep/events/#")
    sim, reader = start_simulator(scenario)
    http = free_port()
    cfg = _config(tmp_path, mosquitto.port, reader, http)
    base = f"http://127.0.0.1:{http}"
    began = time.time()
    first = spawn("run", "--config", str(cfg))
    try:
        wait_until(lambda: _ready(base), 15, "the gateway ready")
        order = {"id": "SO-1", "location": "dock-3", "direction": "in", "items": items, "close_after": "8s"}
        assert call(base, "/api/v1/shipments", OPERATOR, order)[0] == 201
        wait_until(lambda: len([e for e in sub.events() if e["type"] == "departed"]) >= 2, 30, "two departures")
        first.kill()  # in the middle of the run: tags present, maybe an event in flight
        first.communicate(timeout=20)
        second = spawn("run", "--config", str(cfg))
        try:
            wait_until(lambda: _ready(base), 15, "the gateway ready again")
            time.sleep(16 + 4)  # the simulator replays the scenario for the new connection: let it run out
            wait_until(lambda: _quiet(sub, 3.0), 30, "no more events")
            span = {"from": rfc3339(began - 60), "to": rfc3339(time.time() + 60)}
            status, doc = call(base, "/api/v1/reports?" + urllib.parse.urlencode(span), VIEWER)
            status_acme, mine = call(base, "/api/v1/reports?" + urllib.parse.urlencode(span), ACME)
        finally:
            code, log = stop(second)
    finally:
        stop(sim)
        sub.close()
    assert code == 0, log
    assert status == 200 and status_acme == 200, doc
    unique = {e["seq"]: e for e in sub.events(everything=True)}  # a kill -9 may send one again: same seq, same event
    reports = doc["reports"]
    assert reports, "no reports"
    first_seq, last_seq, events = reports[0]["first_seq"], reports[0]["last_seq"], reports[0]["events"]
    assert all((r["first_seq"], r["last_seq"], r["events"]) == (first_seq, last_seq, events) for r in reports)
    in_range = {s: e for s, e in unique.items() if first_seq <= s <= last_seq}
    assert (first_seq, last_seq) == (min(unique), max(unique))  # the whole run is in the range
    assert last_seq - first_seq + 1 == events == len(in_range), sorted(
        set(range(first_seq, last_seq + 1)) - set(unique)
    )
    expected: dict[tuple[str | None, str], Counter[str]] = {}
    for e in in_range.values():
        if e["type"] not in ("report", "command"):  # both count in the total only
            expected.setdefault((e["owner"], e["location"]), Counter()).update(_kinds(e))
    got = {(r["owner"], r["location"]): _counted(r) for r in reports}
    assert got == expected
    owners = {owner for owner, _ in got}
    assert {"acme", "globex", "unassigned"} <= owners, owners
    assert any(k.startswith("exception:") for c in got.values() for k in c), got
    assert sum(c["departed_in"] for c in got.values()) > 0 and sum(c["departed_out"] for c in got.values()) > 0
    assert {(r["owner"], r["location"]) for r in mine["reports"]} == {k for k in got if k[0] == "acme"}
    assert all(set(r["readers"]) == {"portal"} for r in reports)
    # connected time is written once a minute, and at a clean stop the minute begun: the second run's is in
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        (connected,) = db.execute("SELECT sum(connected_s) FROM report_readers WHERE reader = 'portal'").fetchone()
    assert 15 < connected < time.time() - began, connected
    assert "event=presence_restored" in log


def _quiet(sub: Subscriber, seconds: float) -> bool:
    count = len(sub.messages)
    time.sleep(seconds)
    return len(sub.messages) == count
