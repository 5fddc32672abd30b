"""The door board's JSON (gateway.api.board_view.board): what each part shows, and that an owner-scoped
holder finds no EPC or URI of another owner anywhere in it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.api.auth import Holder
from gateway.api.board import fingerprint
from gateway.api.board_view import TAGS_SHOWN, board, doors
from gateway.config.transparency import OwnerSettings
from gateway.core.identity import epc_uri
from gateway.core.owners import Owners
from gateway.ops.snapshot import (
    BrokerFigures,
    GatewaySnapshot,
    OutboxFigures,
    PresentList,
    PresentTag,
    ReadPointFigures,
)
from gateway.reports.report import REPORT_FIELDS
from simulators.llrp.epc import sgtin96, sscc96

pytestmark = pytest.mark.timeout(30)

OWNERS = Owners(
    [
        OwnerSettings(name="acme", company_prefixes=["0614141"]),
        OwnerSettings(name="globex", company_prefixes=["0614142"]),
    ]
)
ACME = [sgtin96("0614141", "812345", n) for n in range(1, 4)] + [sscc96("0614141", "1234567890")]
GLOBEX = [sgtin96("0614142", "812345", n) for n in range(1, 4)] + [sscc96("0614142", "1234567890")]
ADMIN = Holder("ops", "viewer", b"x")
CUSTOMER = Holder("acme-portal", "viewer", b"y", owner="acme")
T0 = 1_764_800_000.0


def _tag(epc: str, owner: str) -> PresentTag:
    return PresentTag(epc, epc_uri(epc), owner, T0, T0 + 5, (1, 2), 12, "in", 0.8, False)


def _event(seq: int, kind: str, epc: str, owner: str | None, location: str = "dock-3", **extra: Any) -> dict[str, Any]:
    uri = epc_uri(epc) if epc else None
    return {"seq": seq, "type": kind, "location": location, "epc": epc, "uri": uri, "owner": owner, **extra}


def _report(owner: str, location: str, exceptions: dict[str, int] | None = None, **counts: int) -> dict[str, Any]:
    """A report row as gateway.reports.report.reports makes it: every field, nested exceptions and readers."""
    row: dict[str, Any] = {"period_from": "2025-12-03T22:00:00Z", "period_to": "2025-12-03T23:00:00Z"}
    row |= {"owner": owner, "location": location}
    row |= {"exceptions": exceptions or {}, "readers": {"portal-3": 3599.5}, "first_seq": 1, "last_seq": 6}
    row |= {"events": 6} | {field: counts.get(field, 0) for field in REPORT_FIELDS if field not in row}
    assert set(row) == {*REPORT_FIELDS, "owner", "location"}
    return row


def _snapshot(**changes: Any) -> GatewaySnapshot:
    tags = tuple(_tag(e, "acme") for e in ACME[:2]) + tuple(_tag(e, "globex") for e in GLOBEX[:2])
    fields: dict[str, Any] = {
        "gateway": "gw-1",
        "owners": ("acme", "globex", "unassigned"),
        "taken": T0 + 6,
        "started": True,
        "doors": {
            "dock-3": {
                "location": "dock-3",
                "state": "exception",
                "shipment": "SO-1",
                "direction": "out",
                "seen": 3,
                "expected": 4,
                "missing": [ACME[2], GLOBEX[2], "urn:epc:idpat:sgtin:0614142.812345.* x 2"],
                "unexpected": [{"epc": GLOBEX[3], "uri": epc_uri(GLOBEX[3])}, {"epc": ACME[3], "uri": None}],
                "wrong_door": [{"epc": GLOBEX[0], "location": "dock-4"}],
                "wrong_direction": [{"epc": ACME[0], "direction": "in"}],
            },
            "dock-4": {"location": "dock-4", "state": "idle", "shipment": None},
        },
        "present": {
            "dock-3": PresentList("dock-3", T0 + 6, tags, 0, {"acme": 2, "globex": 2}),
            "dock-5": PresentList("dock-5", T0 + 6),
        },
        "recent_events": (
            _event(1, "arrived", ACME[0], "acme"),
            _event(2, "arrived", GLOBEX[0], "globex"),
            _event(3, "arrived", GLOBEX[1], "globex", location="dock-4"),
            _event(4, "unexpected_item", GLOBEX[3], "globex", reason="unexpected_item", shipment="SO-1"),
            _event(5, "departed", ACME[1], "acme", direction="out"),
            _event(
                6,
                "shipment_exception",
                "",
                None,
                shipment="SO-1",
                missing=[ACME[2], GLOBEX[2]],
                unexpected=[{"epc": GLOBEX[3], "uri": None}],
            ),
            _event(7, "report", "", "globex", arrivals=4, exceptions={"unexpected_item": 4}),
            _event(8, "report", "", "acme", arrivals=4, exceptions={}),
        ),
        "reports": (
            _report("acme", "dock-3", arrived=2, departed_out=1),
            _report("globex", "dock-3", arrived=2, exceptions={"unexpected_item": 1}),
            _report("acme", "dock-4"),
        ),
        "readers": {"portal-3": {"state": "connected", "detail": "inventorying", "antennas": {"1": "connected"}}},
        "read_points": (
            ReadPointFigures("portal-3", 2, "dock-3", 40, T0, 12.34),
            ReadPointFigures("portal-3", 1, "dock-3", 50, T0, 20.0),
            ReadPointFigures("portal-4", 1, "dock-4", 5, T0, 1.0),
        ),
        "broker": BrokerFigures("127.0.0.1:1883", True),
        "outbox": OutboxFigures(pending=3, is_open=True),
    }
    return GatewaySnapshot(**{**fields, **changes})


def test_the_admin_board_shows_every_part() -> None:
    shown = board(_snapshot(), "dock-3", ADMIN, OWNERS)
    assert (shown["location"], shown["owner"], shown["gateway"]) == ("dock-3", None, "gw-1")
    door = shown["door"]
    assert (door["state"], door["seen"], door["expected"], door["shipment"]) == ("exception", 3, 4, "SO-1")
    assert door["missing"][:2] == [ACME[2], GLOBEX[2]] and door["missing_count"] == 3
    assert [i["epc"] for i in door["unexpected"]] == [GLOBEX[3], ACME[3]]
    assert door["wrong_door"] == [{"epc": GLOBEX[0], "location": "dock-4"}]
    assert shown["present"]["count"] == 4 and len(shown["present"]["tags"]) == 4
    assert [e["seq"] for e in shown["events"]] == [8, 7, 6, 5, 4, 2, 1]  # this door's, newest first
    assert shown["events"][2]["missing"] == [ACME[2], GLOBEX[2]]
    (reader,) = shown["readers"]
    assert (reader["name"], reader["state"], reader["detail"]) == ("portal-3", "connected", "inventorying")
    assert [(a["antenna"], a["rate"], a["state"]) for a in reader["antennas"]] == [
        (1, 20.0, "connected"),
        (2, 12.3, None),
    ]
    assert shown["broker"] == {"connected": True, "where": "127.0.0.1:1883"}
    assert shown["outbox"] == {"pending": 3, "fault": None}
    acme, globex = shown["reports"]  # this door's, every field a scalar the table can show
    assert (acme["owner"], acme["arrived"], acme["departed_out"], acme["first_seq"]) == ("acme", 2, 1, 1)
    assert globex["exceptions.unexpected_item"] == 1 and globex["readers.portal-3"] == 3599.5
    assert not any(isinstance(v, dict | list) for row in shown["reports"] for v in row.values())
    json.dumps(shown)  # all of it is JSON


def test_an_owner_scoped_board_holds_no_tag_of_another_owner() -> None:
    snapshot = _snapshot()
    shown = board(snapshot, "dock-3", CUSTOMER, OWNERS)
    text = json.dumps(shown)
    for epc in GLOBEX:
        assert epc not in text
        uri = epc_uri(epc)
        assert uri is not None and uri not in text
    assert "0614142" not in text  # not even a class pattern of theirs
    assert "globex" not in text
    door = shown["door"]
    assert (door["state"], door["seen"], door["expected"]) == ("exception", 3, 4)  # about no tag
    assert door["missing"] == [ACME[2]] and door["missing_count"] == 1
    assert door["unexpected"] == [{"epc": ACME[3], "uri": None}]
    assert door["wrong_door"] == [] and door["wrong_direction"] == [{"epc": ACME[0], "direction": "in"}]
    assert [t["epc"] for t in shown["present"]["tags"]] == ACME[:2] and shown["present"]["count"] == 2
    assert [e["seq"] for e in shown["events"]] == [8, 6, 5, 1]  # their report, the verdict (about no tag)
    assert shown["events"][1]["missing"] == [ACME[2]] and shown["events"][1]["unexpected"] == []
    assert [r["owner"] for r in shown["reports"]] == ["acme"]
    for epc in ACME[:3]:
        assert epc in text  # their own goods are all there


def test_a_door_without_shipment_or_present_list_is_idle() -> None:
    shown = board(_snapshot(), "dock-5", ADMIN, OWNERS)
    assert shown["door"] == {"location": "dock-5", "state": "idle", "shipment": None}
    assert shown["present"]["tags"] == [] and shown["events"] == [] and shown["reports"] == []
    empty = board(GatewaySnapshot(gateway="gw-1"), "dock-9", CUSTOMER, OWNERS)
    assert empty["present"] is None and empty["readers"] == [] and empty["door"]["state"] == "idle"


def test_doors_are_the_door_views_then_the_present_lists() -> None:
    assert doors(_snapshot()) == ["dock-3", "dock-4", "dock-5"]


def test_a_very_long_present_list_is_cut_for_the_screen() -> None:
    many = tuple(_tag(sgtin96("0614141", "812345", n), "acme") for n in range(TAGS_SHOWN + 7))
    snapshot = _snapshot(present={"dock-3": PresentList("dock-3", T0, many, 93, {"acme": len(many) + 93})})
    present = board(snapshot, "dock-3", ADMIN, OWNERS)["present"]
    assert (len(present["tags"]), present["not_shown"], present["truncated"]) == (TAGS_SHOWN, 7, 93)


def test_the_fingerprint_changes_with_what_matters_only() -> None:
    snapshot = _snapshot()
    mark = fingerprint(snapshot, "dock-3")
    assert fingerprint(_snapshot(taken=T0 + 99, outbox=OutboxFigures(pending=9)), "dock-3") == mark
    event = _event(9, "arrived", ACME[2], "acme")
    assert fingerprint(_snapshot(recent_events=(*snapshot.recent_events, event)), "dock-3") != mark
    verified = {**snapshot.doors, "dock-3": {"location": "dock-3", "state": "verified", "shipment": "SO-1"}}
    assert fingerprint(_snapshot(doors=verified), "dock-3") != mark
    assert fingerprint(_snapshot(readers={"portal-3": {"state": "disconnected"}}), "dock-3") != mark
