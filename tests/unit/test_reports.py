"""Reports over a real SQLite outbox on fake time: tallies as events are stored, periods, catch-up, restarts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from gateway.config import Config, OutboxSettings, parse_config
from gateway.delivery.outbox import Outbox
from gateway.domain.model import LocationEvent, rfc3339
from gateway.reports.desk import CATCH_UP, ReportDesk
from gateway.reports.report import REPORT_FIELDS, reports

pytestmark = pytest.mark.timeout(30)

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "event.schema.json").read_text())
T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600  # a full hour
CONNECTED = {"portal-3": {"state": "connected"}, "portal-4": {"state": "disconnected"}}


def config(tmp_path: Path, every: str = "1h") -> Config:
    return parse_config(f"""\
gateway: {{id: gw-test}}
readers:
  - {{name: portal-3, type: llrp, host: 127.0.0.1}}
  - {{name: portal-4, type: llrp, host: 127.0.0.2}}
locations:
  - {{name: dock-3, read_points: [{{reader: portal-3}}]}}
  - {{name: dock-4, read_points: [{{reader: portal-4}}]}}
outbox: {{path: {tmp_path / "outbox.db"}}}
reports: {{report_every: {every}}}
""")


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def event(kind: str, owner: str | None = "acme", location: str = "dock-3", **more: Any) -> LocationEvent:
    tagless = owner is None
    return LocationEvent(
        type=kind,
        time=T0,
        gateway="gw-test",
        location=location,
        reader="portal-3",
        epc="" if tagless else "3034257BF7194E4000001A85",
        antennas=[] if tagless else [1],
        reads=0 if tagless else 2,
        rssi_max=None,
        first_seen=T0,
        last_seen=T0,
        owner=owner,
        **more,
    )


def opened(tmp_path: Path, clock: Clock, **settings: Any) -> Outbox:
    box = Outbox(OutboxSettings(path=tmp_path / "outbox.db", **settings))
    box.open()
    box.reports.clock = clock
    return box


def topic(e: LocationEvent) -> str:
    return f"dockgate/gw-test/events/{e.location}"


def mixed() -> list[LocationEvent]:
    return [
        event("arrived"),
        event("arrived", owner="globex", location="dock-4"),
        event("departed", direction="in"),
        event("departed", direction="out"),
        event("departed"),
        event("static"),
        event("exception", reason="wrong_door"),
        event("exception", reason="wrong_door"),
        event("exception", owner=None, reason="no_read"),
        event("shipment_verified", owner=None),
        event("shipment_exception", owner=None),
    ]


def test_tallies_equal_the_events_stored(tmp_path: Path) -> None:
    clock = Clock(T0 + 10)
    box = opened(tmp_path, clock)
    box.append(mixed(), topic)
    clock.t += 70  # the next minute
    box.append([event("arrived"), event("scanned")], topic)
    rows = {(r["owner"], r["location"]): r for r in reports(box.reports.connection(), T0, T0 + 3600, {})}
    acme = rows[("acme", "dock-3")]
    assert (acme["arrived"], acme["departed_in"], acme["departed_out"], acme["departed_unknown"]) == (2, 1, 1, 1)
    assert (acme["became_static"], acme["scanned"], acme["exceptions"]) == (1, 1, {"wrong_door": 2})
    assert rows[("globex", "dock-4")]["arrived"] == 1
    door = rows[(None, "dock-3")]
    assert (door["exceptions"], door["shipments_verified"], door["shipments_failed"]) == ({"no_read": 1}, 1, 1)
    assert all((r["first_seq"], r["last_seq"], r["events"]) == (1, 13, 13) for r in rows.values())
    box.close()


def test_rejected_rows_are_not_counted(tmp_path: Path) -> None:
    clock = Clock(T0 + 10)
    box = opened(tmp_path, clock, max_events=3, policy="reject_new")
    box.append([event("arrived") for _ in range(5)], topic)
    assert box.dropped == {"reject_new": 2}
    (only,) = reports(box.reports.connection(), T0, T0 + 3600, {})
    assert (only["arrived"], only["first_seq"], only["last_seq"], only["events"]) == (3, 1, 3, 3)
    box.accept([1, 2, 3])
    box.append([event("departed", direction="out")], topic)  # seq 6, gap_before 2
    (only,) = reports(box.reports.connection(), T0, T0 + 3600, {})
    assert (only["arrived"], only["departed_out"], only["last_seq"], only["events"]) == (3, 1, 6, 4)
    assert only["last_seq"] - only["first_seq"] + 1 - only["events"] == 2  # the gap gap_before announces
    box.close()


def test_owner_filter(tmp_path: Path) -> None:
    box = opened(tmp_path, Clock(T0 + 10))
    box.append(mixed(), topic)
    mine = reports(box.reports.connection(), T0, T0 + 3600, {}, owner="globex")
    assert [(r["owner"], r["location"], r["arrived"]) for r in mine] == [("globex", "dock-4", 1)]
    assert mine[0]["events"] == 11  # the seq range is the gateway's, all owners
    assert reports(box.reports.connection(), T0, T0 + 3600, {}, owner="nobody") == []
    box.close()


def test_query_bounds_are_minutes_start_inclusive_end_exclusive(tmp_path: Path) -> None:
    clock = Clock(T0 + 59.9)
    box = opened(tmp_path, clock)
    box.append([event("arrived")], topic)  # minute 0
    clock.t = T0 + 60.0
    box.append([event("arrived"), event("arrived")], topic)  # minute 1
    db = box.reports.connection()
    assert [r["arrived"] for r in reports(db, T0, T0 + 60, {})] == [1]
    assert [r["arrived"] for r in reports(db, T0 + 60, T0 + 120, {})] == [2]
    assert [r["arrived"] for r in reports(db, T0, T0 + 120, {})] == [3]
    assert reports(db, T0 + 120, T0 + 3600, {}) == []
    box.close()


def turn_until(desk: ReportDesk, clock: Clock, until: float, step: float = 0.5) -> list[LocationEvent]:
    out: list[LocationEvent] = []
    while clock.t < until:
        clock.t = min(until, clock.t + step)
        out += desk.turn(clock.t, CONNECTED)
    return out


def store(box: Outbox, events: list[LocationEvent]) -> None:
    box.append(events, topic)


def test_periods_on_the_clock_with_reader_time(tmp_path: Path) -> None:
    cfg = config(tmp_path, "2m")
    clock = Clock(T0 + 30)
    box = opened(tmp_path, clock)
    desk = ReportDesk(cfg, box.reports)
    assert desk.turn(clock.t, CONNECTED) == []
    store(box, mixed())
    assert turn_until(desk, clock, T0 + 119.5) == []
    due = desk.turn(T0 + 120.0, CONNECTED)
    clock.t = T0 + 120.0
    assert {(e.owner, e.location) for e in due} == {("acme", "dock-3"), ("globex", "dock-4"), (None, "dock-3")}
    validator = Draft202012Validator(SCHEMA)
    store(box, due)  # reports go out through the outbox like events
    for e in due:
        payload = e.to_payload()
        validator.validate(payload)
        assert set(payload) - set(event("arrived").to_payload()) == set(REPORT_FIELDS)
        assert (payload["period_from"], payload["period_to"]) == (rfc3339(T0), rfc3339(T0 + 120))
        assert (payload["first_seq"], payload["last_seq"], payload["events"]) == (1, 11, 11)
        assert payload["seq"] >= 12
    acme = next(e.extra for e in due if e.owner == "acme")
    assert acme["readers"] == {"portal-3": pytest.approx(90.0)}  # connected from the first turn at +30 s
    assert next(e.extra for e in due if e.location == "dock-4")["readers"] == {"portal-4": 0.0}
    assert [(r["location"], r["owner"]) for r in desk.latest] == [
        ("dock-3", "acme"),
        ("dock-3", None),
        ("dock-4", "globex"),
    ]
    box.close()
    box = opened(tmp_path, clock)  # a restart: the board gets the last period's reports back at once
    again = ReportDesk(cfg, box.reports)
    assert again.turn(T0 + 130, CONNECTED) == [] and again.latest == desk.latest
    # the next period holds only the reports themselves: no report of reports
    assert turn_until(again, clock, T0 + 240) == []
    box.close()


def test_no_double_counting_after_reopening_and_catch_up_after_downtime(tmp_path: Path) -> None:
    cfg = config(tmp_path, "1m")
    clock = Clock(T0 + 5)
    box = opened(tmp_path, clock)
    desk = ReportDesk(cfg, box.reports)
    desk.turn(clock.t, CONNECTED)
    store(box, [event("arrived")])
    clock.t = T0 + 60
    first = desk.turn(clock.t, CONNECTED)
    store(box, first)
    assert [e.extra["arrived"] for e in first] == [1]
    store(box, [event("departed", direction="out")])  # minute 1, then the gateway stops
    box.close()

    clock.t = T0 + 300  # down for four minutes; a new process, the same outbox
    box = opened(tmp_path, clock)
    desk = ReportDesk(cfg, box.reports)
    again = desk.turn(clock.t, CONNECTED)
    assert [(e.extra["period_from"][11:19], e.extra["departed_out"], e.extra["arrived"]) for e in again] == [
        ("08:01:00", 1, 0)
    ]
    store(box, again)
    box.close()

    box = opened(tmp_path, clock)  # and once more: nothing is reported twice
    assert ReportDesk(cfg, box.reports).turn(clock.t + 1, CONNECTED) == []
    box.close()


def test_reports_not_stored_are_reported_again_after_a_restart(tmp_path: Path) -> None:
    cfg = config(tmp_path, "1m")
    clock = Clock(T0 + 5)
    box = opened(tmp_path, clock)
    desk = ReportDesk(cfg, box.reports)
    desk.turn(clock.t, CONNECTED)
    store(box, [event("arrived")])
    assert len(desk.turn(T0 + 60, CONNECTED)) == 1  # ... and the outbox could not store them: a crash
    assert desk.turn(T0 + 61, CONNECTED) == []  # not twice in this process
    box.close()
    box = opened(tmp_path, clock)
    assert len(ReportDesk(cfg, box.reports).turn(T0 + 62, CONNECTED)) == 1
    box.close()


def test_catch_up_is_bounded(tmp_path: Path) -> None:
    cfg = config(tmp_path, "1m")
    clock = Clock(T0 + 5)
    box = opened(tmp_path, clock)
    desk = ReportDesk(cfg, box.reports)
    desk.turn(clock.t, CONNECTED)
    for minute in range(CATCH_UP + 10):
        clock.t = T0 + 60 * minute + 5
        store(box, [event("arrived")])
    clock.t = T0 + 60 * (CATCH_UP + 10) + 1
    due = desk.turn(clock.t, CONNECTED)
    assert len(due) == CATCH_UP and Counter(e.extra["arrived"] for e in due) == {1: CATCH_UP}
    assert due[-1].extra["period_to"] == desk.latest[0]["period_to"]
    box.close()


def test_expire_forgets_old_buckets(tmp_path: Path) -> None:
    clock = Clock(T0 + 5)
    box = opened(tmp_path, clock)
    store(box, [event("arrived")])
    clock.t = T0 + 7200
    store(box, [event("arrived")])
    box.reports.expire(T0 + 3600)
    assert [r["arrived"] for r in reports(box.reports.connection(), T0, T0 + 10_000, {})] == [1]
    box.close()


def test_the_desk_waits_while_the_outbox_is_closed_and_follows_a_reload(tmp_path: Path) -> None:
    clock = Clock(T0 + 5)
    box = Outbox(OutboxSettings(path=tmp_path / "outbox.db"))
    box.reports.clock = clock
    desk = ReportDesk(config(tmp_path, "1m"), box.reports)
    assert desk.turn(T0 + 5, CONNECTED) == [] and desk.turn(T0 + 65, CONNECTED) == []  # not open: no error
    box.open()
    store(box, [event("arrived")])
    desk.reconfigure(config(tmp_path, "2m"))
    assert desk.turn(T0 + 66, CONNECTED) == []
    assert [e.extra["period_to"] for e in desk.turn(T0 + 120, CONNECTED)] == [rfc3339(T0 + 120)]
    box.close()


def test_reader_time_counts_each_second_once(tmp_path: Path) -> None:
    box = opened(tmp_path, Clock(T0))
    desk = ReportDesk(config(tmp_path, "1m"), box.reports)
    for now in (T0 + 1, T0 + 31, T0 + 30, T0 + 39, T0 + 38, T0 + 47):  # behind: now steps back twice
        desk.turn(now, CONNECTED)
    desk.close(T0 + 47)
    store(box, [event("arrived")])
    (only,) = desk.query(T0, T0 + 60)
    assert only["readers"] == {"portal-3": pytest.approx(10 + 8 + 8)}  # the 30 s gap counts its last 10 s
    box.close()
