"""GET /api/v1/reports over real HTTP: a real ApiServer reading a real outbox through its own read-only
connection; owner scope, bad times, bounds; every answer validates against docs/openapi.yaml."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from gateway.api.server import ApiServer
from gateway.config import OutboxSettings
from gateway.config.service import ApiSettings, ApiToken
from gateway.config.transparency import OwnerSettings
from gateway.delivery.outbox import Outbox
from gateway.domain.model import rfc3339
from gateway.ops.snapshot import GatewaySnapshot, OutboxFigures
from gateway.reports.report import ReportSource, reports
from gateway.shipments.commands import CommandPort
from tests.unit.test_api import _check_against_openapi
from tests.unit.test_reports import T0, Clock, config, event, mixed, opened, store, topic

pytestmark = pytest.mark.timeout(30)

VIEWER, ACME = "view-secret-8b2d7a", "acme-secret-1c4e9f"
SNAPSHOT = GatewaySnapshot(
    gateway="gw-test", taken=time.time() + 3600, started=True, outbox=OutboxFigures(is_open=True)
)
OWNERS = [
    OwnerSettings(name="acme", company_prefixes=["0614141"]),
    OwnerSettings(name="globex", company_prefixes=["0614142"]),
]


class Served:
    def __init__(self, tmp_path: Path) -> None:
        self.box = Outbox(OutboxSettings(path=tmp_path / "outbox.db"))
        self.box.open()
        self.box.reports.clock = Clock(T0 + 10)
        (tmp_path / "view.token").write_text(VIEWER)
        (tmp_path / "acme.token").write_text(ACME)
        for name in ("view.token", "acme.token"):
            (tmp_path / name).chmod(0o600)
        settings = ApiSettings(
            tokens=[
                ApiToken(name="wallboard", file=tmp_path / "view.token"),
                ApiToken(name="acme-portal", file=tmp_path / "acme.token", owner="acme"),
            ]
        )
        registry = CollectorRegistry()
        source = ReportSource(self.box.path, {"dock-3": ("portal-3",), "dock-4": ("portal-4",)})
        self.server = ApiServer(
            "127.0.0.1",
            0,
            lambda: SNAPSHOT,
            lambda: generate_latest(registry),
            CommandPort(),
            settings,
            registry=registry,
            owners=OWNERS,
            reports=source,
        )
        self.server.start()

    def get(self, token: str, **query: str) -> tuple[int, Any]:
        path = "/api/v1/reports?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(f"http://127.0.0.1:{self.server.port}{path}")
        request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        doc = json.loads(raw)
        _check_against_openapi("GET", path, status, doc)
        return status, doc


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    running = Served(tmp_path)
    yield running
    running.server.stop()
    running.box.close()


HOUR = {"from": rfc3339(T0), "to": rfc3339(T0 + 3600)}


def test_reports_of_every_owner_and_the_range_covered(served: Served) -> None:
    served.box.append(mixed(), topic)
    status, doc = served.get(VIEWER, **HOUR)
    assert status == 200 and (doc["from"], doc["to"], doc["owner"]) == (HOUR["from"], HOUR["to"], None)
    rows = {(r["owner"], r["location"]): r for r in doc["reports"]}
    assert set(rows) == {("acme", "dock-3"), (None, "dock-3"), ("globex", "dock-4")}
    assert rows[("acme", "dock-3")]["exceptions"] == {"wrong_door": 2}
    assert rows[("globex", "dock-4")]["readers"] == {"portal-4": 0.0}
    served.box.append([event("arrived")], topic)  # the read-only connection sees what the outbox commits
    assert served.get(VIEWER, **HOUR)[1]["reports"][0]["arrived"] == 2
    status, doc = served.get(VIEWER, owner="globex", **HOUR)
    assert [r["owner"] for r in doc["reports"]] == ["globex"]


def test_an_owner_scoped_token_sees_only_its_owner(served: Served) -> None:
    served.box.append(mixed(), topic)
    status, doc = served.get(ACME, **HOUR)
    assert status == 200 and doc["owner"] == "acme"
    assert {r["owner"] for r in doc["reports"]} == {"acme"}
    status, doc = served.get(ACME, owner="globex", **HOUR)
    assert status == 403 and doc["field"] == "owner"


def test_bad_times_and_ranges_are_422_naming_the_field(served: Served) -> None:
    assert served.get(VIEWER, to=HOUR["to"])[1]["field"] == "from"
    status, doc = served.get(VIEWER, **{"from": "yesterday", "to": HOUR["to"]})
    assert status == 422 and doc["field"] == "from"
    status, doc = served.get(VIEWER, **{"from": HOUR["from"], "to": "2027-01-15T09:00:00"})  # no offset
    assert status == 422 and doc["field"] == "to"
    status, doc = served.get(VIEWER, **{"from": HOUR["to"], "to": HOUR["from"]})
    assert status == 422 and doc["field"] == "to"
    status, doc = served.get(VIEWER, **{"from": rfc3339(T0), "to": rfc3339(T0 + 32 * 86400)})
    assert status == 422 and doc["field"] == "to" and "31 days" in doc["reason"]
    assert served.get(VIEWER, owner="nobody", **HOUR)[0] == 404


def test_times_round_to_whole_minutes(served: Served) -> None:
    served.box.append([event("arrived")], topic)  # stored at T0 + 10 s
    status, doc = served.get(VIEWER, **{"from": rfc3339(T0 + 30), "to": rfc3339(T0 + 30.5)})
    assert status == 200 and (doc["from"], doc["to"]) == (rfc3339(T0), rfc3339(T0 + 60))
    assert [r["arrived"] for r in doc["reports"]] == [1]
    status, doc = served.get(VIEWER, **{"from": rfc3339(T0 + 60), "to": rfc3339(T0 + 120)})
    assert status == 200 and doc["reports"] == []


def test_a_read_only_connection_reads_while_the_outbox_writes(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    box = opened(tmp_path, Clock(T0 + 5))
    store(box, mixed())
    source = ReportSource.of(cfg)
    assert source.readers == {"dock-3": ("portal-3",), "dock-4": ("portal-4",)}
    ro = sqlite3.connect(f"file:{source.outbox}?mode=ro", uri=True)
    assert len(reports(ro, T0, T0 + 3600, source.readers)) == 3
    store(box, [event("arrived")])
    assert reports(ro, T0, T0 + 3600, source.readers)[0]["arrived"] == 2
    with pytest.raises(sqlite3.OperationalError):
        ro.execute("DELETE FROM report_tally")
    ro.close()
    box.close()
