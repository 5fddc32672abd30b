"""Who moved it (issue 16): badges and vehicle tags sign actors in and out at a door, the events there carry
``operator`` / ``vehicle``, actor tags never make property events, and every sign-in and sign-out is a
journaled command; stored with the events and restored after a restart; EPCIS carries the operator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.config import parse_config
from gateway.config.locations import EpcisSettings
from gateway.core.actors import ActorDesk
from gateway.core.barcode import parse_barcode
from gateway.core.pipeline import Pipeline
from gateway.delivery.epcis import check_digit, document, object_event
from gateway.delivery.outbox import Outbox
from gateway.domain.errors import ConfigError
from gateway.domain.model import LocationEvent
from gateway.journal.export import write_csv
from tests.conftest import check_event
from tests.unit.test_epcis import check_epcis

ANA = "urn:epc:id:gsrn:0614141.1234567890"
BEN = "urn:epc:id:gsrn:0614141.1234567891"
FORKLIFT = "urn:epc:id:giai:0614141.FL7"
PALLET = "urn:epc:id:sscc:0614141.1234567890"


def _badge(uri: str) -> str:
    """The badge's GS1-128 barcode as a scanner sends it: AIM ]C1, AI 8018, the 18-digit GSRN."""
    company, ref = uri.rsplit(":", 1)[1].split(".")
    digits = company + ref
    return f"]C18018{digits}{check_digit(digits)}"


def _config(tmp_path: Path | None = None, **actors: Any) -> Any:
    data: dict[str, Any] = {
        "gateway": {"id": "gw-act"},
        "readers": [{"name": "portal-3", "type": "llrp", "host": "127.0.0.1", "antennas": [1, 2]}],
        "locations": [
            {"name": "dock-3", "read_points": [{"reader": "portal-3", "antennas": [1]}]},
            {"name": "dock-4", "read_points": [{"reader": "portal-3", "antennas": [2]}]},
        ],
        "actors": actors
        or {
            "people": [{"name": "ana", "id": ANA}, {"name": "ben", "id": BEN}],
            "vehicles": [{"name": "forklift-7", "id": FORKLIFT}],
            "sign_out_after": "10m",
        },
    }
    if tmp_path is not None:
        data["outbox"] = {"path": str(tmp_path / "outbox.db")}
    return parse_config(json.dumps(data), "test config")


def _event(kind: str, t: float, uri: str | None = PALLET, location: str = "dock-3", **extra: Any) -> LocationEvent:
    event = LocationEvent(kind, t, "gw-act", location, "portal-3", "3034257BF7194E4000001A85", [1], 3, -50.0, t, t)
    event.uri = uri
    if kind == "departed":
        event.direction, event.direction_confidence = "in", 0.9
    event.extra.update(extra)
    return event


def _scan(text: str, t: float, location: str = "dock-3") -> LocationEvent:
    barcode = parse_barcode(text)
    event = LocationEvent("scanned", t, "gw-act", location, "scanner-3", "", [], 1, None, t, t, uri=barcode.uri)
    event.extra.update({"epc": None, "barcode": barcode.to_payload(), "matched_epc": None})
    return event


def _checked(events: list[LocationEvent]) -> list[dict[str, Any]]:
    out = []
    for n, event in enumerate(events, start=1):
        event.seq = n
        payload = event.to_payload()
        check_event(payload, f"{event.type} {payload.get('command', '')}")
        out.append(payload)
    return out


def _commands(events: list[LocationEvent]) -> list[tuple[str, str, str, str | None]]:
    out = []
    for e in events:
        if e.type == "command":
            who = e.extra.get("operator") or e.extra.get("vehicle")
            out.append((e.extra["command"], who["name"], e.extra["source"], e.extra["location"]))
    return out


def test_a_badge_scan_signs_in_attributes_the_doors_events_and_a_second_scan_signs_out() -> None:
    desk = ActorDesk(_config())
    made = desk.process([_scan(_badge(ANA), 10.0)], 10.0)
    assert _commands(made) == [("actor_sign_in", "ana", "scanner", "dock-3")]
    here, there = _event("arrived", 11.0), _event("arrived", 11.0, location="dock-4")
    assert desk.process([here, there], 11.0) == [here, there]
    assert here.extra["operator"] == {"name": "ana", "id": ANA} and "operator" not in there.extra
    out = desk.process([_scan(_badge(ANA), 12.0)], 12.0)
    assert _commands(out) == [("actor_sign_out", "ana", "scanner", "dock-3")]
    later = _event("departed", 13.0)
    desk.process([later], 13.0)
    assert "operator" not in later.extra
    _checked([*made, here, there, *out, later])  # every one valid against docs/event.schema.json


def test_another_badge_replaces_the_first_and_a_quiet_door_signs_out_after_the_timeout() -> None:
    desk = ActorDesk(_config())
    desk.process([_scan(_badge(ANA), 10.0)], 10.0)
    out = desk.process([_scan(_badge(BEN), 20.0)], 20.0)
    assert _commands(out) == [
        ("actor_sign_out", "ana", "replaced", "dock-3"),
        ("actor_sign_in", "ben", "scanner", "dock-3"),
    ]
    busy = desk.process([_event("arrived", 500.0)], 500.0)  # an event at the door keeps the sign-in alive
    assert busy[0].extra["operator"]["name"] == "ben" and desk.process([], 1000.0) == []
    out = desk.process([], 500.0 + 600.0)  # 10 min after the last event there
    assert _commands(out) == [("actor_sign_out", "ben", "timeout", "dock-3")]
    ben_elsewhere = desk.process([_scan(_badge(BEN), 2000.0, "dock-4")], 2000.0)
    out = desk.process([_scan(_badge(BEN), 2001.0)], 2001.0)  # at dock-3 now: signed out of dock-4
    assert _commands(ben_elsewhere + out) == [
        ("actor_sign_in", "ben", "scanner", "dock-4"),
        ("actor_sign_out", "ben", "replaced", "dock-4"),
        ("actor_sign_in", "ben", "scanner", "dock-3"),
    ]
    _checked(out)


def test_a_vehicle_tag_signs_in_on_arrival_and_out_on_departure_and_is_never_a_property_event() -> None:
    desk = ActorDesk(_config())
    pallet = _event("arrived", 10.0)
    out = desk.process([_event("arrived", 10.0, FORKLIFT), pallet], 10.0)
    assert _commands(out) == [("actor_sign_in", "forklift-7", "rfid", "dock-3")]
    assert out[1] is pallet and pallet.extra["vehicle"] == {"name": "forklift-7", "id": FORKLIFT}
    assert desk.process([_event("static", 20.0, FORKLIFT), _event("arrived", 21.0, FORKLIFT)], 21.0) == []
    assert [e.uri for e in out if e.type != "command"] == [PALLET]
    gone = desk.process([_event("departed", 30.0, FORKLIFT)], 30.0)
    assert _commands(gone) == [("actor_sign_out", "forklift-7", "rfid", "dock-3")]
    assert desk.process([], 1e9) == []  # a tag's sign-in has no timeout: its departure ends it
    _checked(out + gone)


def test_without_actors_nothing_changes() -> None:
    desk = ActorDesk(_config(people=[]))
    events = [_scan(_badge(ANA), 1.0), _event("arrived", 1.0, FORKLIFT)]
    assert desk.process(events, 1.0) is events and all("operator" not in e.extra for e in events)


@pytest.mark.parametrize(
    ("actors", "message"),
    [
        ({"people": [{"name": "ana", "id": "urn:epc:id:giai:0614141.X"}]}, "a person's badge is a GSRN"),
        ({"people": [{"name": "ana", "id": "urn:epc:id:gsrn:0614141.123"}]}, "a person's badge is a GSRN"),
        ({"vehicles": [{"name": "fl", "id": ANA}]}, "a vehicle's tag is a GIAI"),
        ({"people": [{"name": "ana", "id": ANA}, {"name": "ana", "id": BEN}]}, "'ana' is listed twice"),
        ({"people": [{"name": "ana", "id": ANA}], "vehicles": [{"name": "x", "id": FORKLIFT, "pin": 1}]}, "pin"),
    ],
)
def test_bad_actors_are_refused_with_the_field_named(actors: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(**actors)
    assert message in str(caught.value) and "actors" in str(caught.value)


def test_sign_ins_are_stored_with_their_events_and_restored_after_a_restart(tmp_path: Path) -> None:
    config = _config(tmp_path)
    desk = ActorDesk(config)
    outbox = Outbox(tmp_path / "outbox.db", journal=True)
    outbox.open()
    made = desk.process([_scan(_badge(ANA), 10.0), _event("arrived", 10.0, FORKLIFT)], 10.0)
    outbox.append(made, lambda e: "t")
    rows = outbox.actors.load()
    assert [(r[0], r[1], r[2], r[5]) for r in rows] == [
        ("dock-3", "operator", "ana", "scanner"),
        ("dock-3", "vehicle", "forklift-7", "rfid"),
    ]
    outbox.close()
    # the next start: the forklift's tag is no longer present, so its departure cannot be seen
    again = Outbox(tmp_path / "outbox.db", journal=True)
    again.open()
    restarted = ActorDesk(config)
    out = restarted.restore(again.actors.load(), Pipeline(config), now=50.0)  # nothing present
    assert _commands(out) == [("actor_sign_out", "forklift-7", "restart", "dock-3")]
    after = _event("arrived", 51.0)
    restarted.process([after], 51.0)
    assert after.extra["operator"]["name"] == "ana" and "vehicle" not in after.extra
    again.append(out, lambda e: "t")
    assert [r[2] for r in again.actors.load()] == ["ana"]
    again.close()


def test_a_reload_without_the_actor_signs_it_out() -> None:
    desk = ActorDesk(_config())
    desk.process([_scan(_badge(ANA), 10.0)], 10.0)
    out = desk.reconfigure(_config(people=[{"name": "ben", "id": BEN}]), 20.0)
    assert _commands(out) == [("actor_sign_out", "ana", "reload", "dock-3")]


def test_epcis_carries_the_operator_and_vehicle_in_the_event_hash_and_the_csv_export_names_them() -> None:
    event = _event("arrived", 10.0, operator={"name": "ana", "id": ANA}, vehicle={"name": "forklift-7", "id": FORKLIFT})
    found = object_event(event, EpcisSettings())
    assert found is not None and found["dockgate:operator"] == ANA and found["dockgate:vehicle"] == FORKLIFT
    plain = object_event(_event("arrived", 10.0), EpcisSettings())
    assert plain is not None and plain["eventID"] != found["eventID"]  # the hash covers who moved it
    doc = document([found], "urn:uuid:1", 10.0)
    assert doc["@context"][1] == {"dockgate": "urn:dockgate:epcis:"}
    check_epcis(doc)

    class _Export:
        def events(self) -> list[tuple[None, dict[str, Any]]]:
            return [(None, _checked([event])[0])]

    import io

    out = io.StringIO()
    write_csv(_Export(), out)  # type: ignore[arg-type]
    header, row = (line.split(",") for line in out.getvalue().splitlines())
    assert row[header.index("operator")] == "ana" and row[header.index("vehicle")] == "forklift-7"
