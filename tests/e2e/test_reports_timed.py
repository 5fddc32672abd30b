"""Reports on the clock: a real gateway (`dockgate run`) with `report_every: 60s` on the LLRP simulator and a
real mosquitto publishes, at the minute's end, one `report` event per owner and location through the outbox;
their counts equal the events in their seq range, and the door board in a headless chromium shows an
owner's own report rows (and no other owner's) as soon as they are published.

The run is placed inside one minute (it waits for the next minute if less than 30 s of this one are left),
so every event of the scenario falls in one period and the board's latest reports are about all of it."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver

from gateway.domain.model import rfc3339
from gateway.ops.net import free_port
from simulators.llrp.scenario import load_scenario
from tests.browser import browser, login, text
from tests.conftest import Broker, Subscriber, wait_until
from tests.e2e.test_e2e import spawn, start_simulator, stop
from tests.e2e.test_reports import ACME, SCENARIO, _config, _counted, _kinds, _ready

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(200)]
__all__ = ["browser"]  # the fixture, used by name

ROWS = """
const table = document.getElementById("reports");
const keys = [...table.tHead.querySelectorAll("th")].map((th) => th.textContent);
const row = (tr) => Object.fromEntries([...tr.cells].map((td, i) => [keys[i], td.textContent]));
return [...table.tBodies[0].rows].map(row);
"""


def _reports(sub: Subscriber) -> list[dict[str, Any]]:
    return [e for e in sub.events(everything=True) if e["type"] == "report"]


def _departed(sub: Subscriber) -> set[str]:
    return {e["epc"] for e in sub.events() if e["type"] == "departed"}


def test_timed_reports_over_mqtt_and_on_the_board(tmp_path: Path, mosquitto: Broker, browser: webdriver.Chrome) -> None:
    scenario = tmp_path / "report-run.yaml"
    scenario.write_text(SCENARIO)
    http = free_port()
    sub = Subscriber(mosquitto, "dockgate/gw-rep/events/#")
    if time.time() % 60 > 30:  # the run must end in the minute it began (about 20 s)
        time.sleep(61 - time.time() % 60)
    began = time.time()
    sim, reader = start_simulator(scenario)
    config = _config(tmp_path, mosquitto.port, reader, http)
    config.write_text(config.read_text() + "reports: {report_every: 60s}\n")
    base = f"http://127.0.0.1:{http}"
    gateway = spawn("run", "--config", str(config))
    try:
        wait_until(lambda: _ready(base), 15, "the gateway ready")
        login(browser, base, "/doors/dock-3", ACME)
        wait_until(lambda: text(browser, "title") == "dock-3", 10, "acme's board of dock-3")
        tags = {v.epc for v in load_scenario(scenario).truth()}
        wait_until(lambda: _departed(sub) == tags, 40, "every tag departed")
        goods_done = time.time()
        assert goods_done // 60 == began // 60, "the run crossed a minute: the test's own timing is off"
        wait_until(lambda: bool(_reports(sub)), 75, "the minute's reports")
        published = time.monotonic()
        wait_until(lambda: bool(browser.execute_script(ROWS)), 5, "the reports on the board")
        shown_after = time.monotonic() - published
        rows = browser.execute_script(ROWS)
        board_page = str(browser.execute_script("return document.documentElement.outerHTML"))
    finally:
        code, log = stop(gateway)
        stop(sim)
        sub.close()
    assert code == 0, log
    reports = _reports(sub)
    period_end = (began // 60 + 1) * 60
    assert {(r["period_from"], r["period_to"]) for r in reports} == {(rfc3339(period_end - 60), rfc3339(period_end))}
    first_seq, last_seq = reports[0]["first_seq"], reports[0]["last_seq"]
    goods = {e["seq"]: e for e in sub.events(everything=True) if e["type"] != "report"}
    assert (first_seq, last_seq) == (min(goods), max(goods))  # every event of the minute, none after
    expected: dict[tuple[str | None, str], Counter[str]] = {}
    for e in goods.values():
        if e["type"] != "command":
            expected.setdefault((e["owner"], e["location"]), Counter()).update(_kinds(e))
    assert {(r["owner"], r["location"]): _counted(r) for r in reports} == expected
    assert {"acme", "globex", "unassigned"} <= {r["owner"] for r in reports}
    # acme's board: its one row for dock-3, the same figures as the published report; nobody else's
    (mine,) = [r for r in reports if (r["owner"], r["location"]) == ("acme", "dock-3")]
    (row,) = rows
    assert row["owner"] == "acme" and row["location"] == "dock-3"
    for field in ("arrived", "departed_in", "departed_out", "first_seq", "last_seq", "events"):
        assert float(row[field]) == mine[field], (field, row)
    assert float(row["readers.portal"]) == mine["readers"]["portal"] > 0
    assert "globex" not in board_page and "0614142" not in board_page
    print(f"reports shown on the board {shown_after:.2f} s after their MQTT event")
