"""The shipment book: posting and its refusals, counting items once, exceptions as they happen,
verdicts at close, and the durable form that lets a restarted gateway go on counting."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from gateway.config import parse_config
from gateway.domain.model import LocationEvent
from gateway.shipments.book import ShipmentBook
from gateway.shipments.commands import Command, CommandError, parse_command
from gateway.shipments.order import ShipmentOrder

CONFIG = parse_config(
    """
gateway: {id: gw-1}
readers:
  - {name: r3, type: llrp, host: 127.0.0.1}
  - {name: r4, type: llrp, host: 127.0.0.2}
locations:
  - {name: dock-3, read_points: [{reader: r3}]}
  - {name: dock-4, read_points: [{reader: r4}]}
shipments: {max_items: 5}
"""
)
A, B, C, X = (f"30340242201D8840009EFC0{n}" for n in "1234")
SGTIN_CLASS = "urn:epc:idpat:sgtin:0037000.030241.*"  # the class of A..X (epc_uri of the hex above)


def uri_of(epc: str) -> str:
    from gateway.core.identity import epc_uri

    uri = epc_uri(epc)
    assert uri is not None
    return uri


def event(
    kind: str, epc: str, location: str = "dock-3", t: float = 100.0, direction: str | None = None
) -> LocationEvent:
    return LocationEvent(
        type=kind,
        time=t,
        gateway="gw-1",
        location=location,
        reader="r3" if location == "dock-3" else "r4",
        epc=epc,
        antennas=[1],
        reads=3,
        rssi_max=-50.0,
        first_seen=t,
        last_seen=t,
        uri=uri_of(epc),
        direction=direction,
    )


def post(book: ShipmentBook, now: float = 10.0, **order: object) -> tuple[bool, int, str | None]:
    body = {"id": "S1", "location": "dock-3", "direction": "out", "items": [A, B], **order}
    reply, _ = book.command(Command("post", str(body["id"]), ShipmentOrder.model_validate(body), "test"), now)
    return reply.accepted, reply.status, reply.field


def close(book: ShipmentBook, now: float = 200.0, sid: str = "S1") -> LocationEvent:
    reply, events = book.command(Command("close", sid), now)
    assert reply.accepted, reply
    journaled, verdict = events  # the command, journaled, then its verdict (tests/unit/test_journal_commands.py)
    assert (journaled.type, journaled.extra["command"]) == ("command", "shipment_close")
    return verdict


def test_a_complete_load_counts_each_item_once_and_is_verified() -> None:
    book = ShipmentBook(CONFIG)
    assert post(book) == (True, 201, None)
    passing = [event("arrived", A), event("arrived", B), event("departed", A, direction="out")]
    assert book.observe(passing, 100.0) == []
    assert book.observe([event("arrived", A, t=150.0)], 150.0) == []  # again: still one item
    assert all(e.extra["shipment"] == "S1" for e in passing)
    assert book.door("dock-3", 150.0) | {"missing": []} == book.door("dock-3", 150.0)
    assert (book.door("dock-3", 150.0)["seen"], book.door("dock-3", 150.0)["state"]) == (2, "loading")
    verdict = close(book)
    assert verdict.type == "shipment_verified"
    payload = verdict.to_payload()
    assert (payload["seen"], payload["expected"], payload["missing"], payload["epc"]) == (2, 2, [], None)
    assert book.door("dock-3", 200.0)["state"] == "verified"
    assert book.door("dock-3", 300.0)["state"] == "idle"  # a verification is shown for a minute


def test_a_missing_case_an_unexpected_pallet_and_a_misload_are_exceptions_at_once_and_at_close() -> None:
    book = ShipmentBook(CONFIG)
    post(book)
    unexpected = book.observe([event("arrived", A), event("arrived", X)], 100.0)
    assert [(e.type, e.reason, e.epc, e.location) for e in unexpected] == [
        ("exception", "unexpected_item", X, "dock-3")
    ]
    wrong = book.observe([event("arrived", B, location="dock-4")], 101.0)
    assert [(e.reason, e.location, e.extra["expected_location"]) for e in wrong] == [("wrong_door", "dock-4", "dock-3")]
    payload = close(book).to_payload()
    assert payload["type"] == "shipment_exception"
    assert payload["missing"] == [B]
    assert payload["unexpected"] == [{"epc": X, "uri": uri_of(X)}]
    assert payload["wrong_door"] == [{"epc": B, "location": "dock-4"}]
    assert book.door("dock-3", 10_000.0)["state"] == "exception"  # until acknowledged
    reply, _ = book.command(Command("acknowledge", "S1"), 10_001.0)
    assert reply.accepted and book.door("dock-3", 10_001.0)["state"] == "idle"


def test_a_misloaded_item_that_then_passes_the_right_door_counts() -> None:
    book = ShipmentBook(CONFIG)
    post(book, items=[A])
    book.observe([event("arrived", A, location="dock-4")], 100.0)
    book.observe([event("arrived", A)], 110.0)
    assert close(book).type == "shipment_verified"


def test_moving_the_wrong_way_is_an_exception_and_uncounts_the_item() -> None:
    book = ShipmentBook(CONFIG)
    post(book, items=[A])
    book.observe([event("arrived", A)], 100.0)
    (exc,) = book.observe([event("departed", A, direction="in")], 105.0)
    assert (exc.reason, exc.extra["expected_direction"]) == ("wrong_direction", "out")
    payload = close(book).to_payload()
    assert payload["missing"] == [A] and payload["wrong_direction"] == [{"epc": A, "direction": "in"}]


def test_an_unexpected_pallet_taken_back_the_way_it_came_is_not_on_the_list() -> None:
    book = ShipmentBook(CONFIG)
    post(book, items=[A])
    book.observe([event("arrived", A), event("arrived", X)], 100.0)
    book.observe([event("departed", X, direction="in")], 103.0)
    assert close(book).type == "shipment_verified"


def test_receiving_a_class_quantity_counts_up_to_it_and_one_more_is_unexpected() -> None:
    book = ShipmentBook(CONFIG)
    assert post(book, direction="in", items=[], classes=[{"pattern": SGTIN_CLASS, "quantity": 2}])[0]
    assert book.observe([event("arrived", A), event("arrived", B)], 100.0) == []
    assert book.door("dock-3", 100.0)["missing"] == []
    (extra,) = book.observe([event("arrived", C)], 101.0)
    assert extra.reason == "unexpected_item"
    assert close(book).to_payload()["unexpected"] == [{"epc": C, "uri": uri_of(C)}]


def test_a_short_class_is_missing_with_its_shortfall() -> None:
    book = ShipmentBook(CONFIG)
    post(book, items=[], classes=[{"pattern": SGTIN_CLASS, "quantity": 3}])
    book.observe([event("arrived", A)], 100.0)
    assert close(book).to_payload()["missing"] == [f"{SGTIN_CLASS} x 2"]


def test_an_item_by_its_pure_identity_uri_counts() -> None:
    book = ShipmentBook(CONFIG)
    post(book, items=[uri_of(A)])
    book.observe([event("arrived", A)], 100.0)
    assert close(book).type == "shipment_verified"


@pytest.mark.parametrize(
    ("order", "status", "field"),
    [
        ({"location": "dock-9"}, 422, "location"),
        ({"items": [A, B, C, X, A + "00", B + "00"]}, 422, "items"),
        ({"items": []}, 422, "items"),
        ({"deadline": datetime(2020, 1, 1, tzinfo=UTC).isoformat()}, 422, "deadline"),
    ],
)
def test_refused_posts_name_the_field_and_change_nothing(order: dict[str, object], status: int, field: str) -> None:
    book = ShipmentBook(CONFIG)
    version = book.version
    assert post(book, now=2e9, **order) == (False, status, field)
    assert book.shipments == {} and book.version == version and book.take_dirty() == []
    assert book.commands[("test", "post", "refused")] == 1


def test_a_duplicate_id_and_a_busy_door_are_conflicts() -> None:
    book = ShipmentBook(CONFIG)
    post(book)
    assert post(book) == (False, 409, "id")
    assert post(book, id="S2") == (False, 409, "location")
    assert post(book, id="S3", location="dock-4") == (True, 201, None)


def test_close_after_and_deadline_close_by_themselves() -> None:
    book = ShipmentBook(CONFIG)
    post(book, items=[A], close_after="30s")
    book.observe([event("arrived", A)], 100.0)
    assert book.tick(129.0) == []
    (verdict,) = book.tick(130.0)
    assert (verdict.type, verdict.extra["close_reason"]) == ("shipment_verified", "close_after")
    post(book, id="S2", items=[B], deadline=datetime.fromtimestamp(500.0, UTC).isoformat())
    (late,) = book.tick(500.0)
    assert (late.type, late.extra["close_reason"], late.extra["missing"]) == ("shipment_exception", "deadline", [B])


def test_a_restored_book_goes_on_counting_without_counting_twice() -> None:
    book = ShipmentBook(CONFIG)
    post(book, items=[A, B])
    book.observe([event("arrived", A)], 100.0)
    docs = [json.loads(doc) for _, _, doc in book.take_dirty()]
    again = ShipmentBook(CONFIG)
    assert again.restore(docs) == 1
    again.observe([event("arrived", A, t=120.0), event("arrived", B, t=121.0)], 121.0)
    assert again.door("dock-3", 121.0)["seen"] == 2
    assert close(again).type == "shipment_verified"
    assert post(again, id="S1", location="dock-4") == (False, 409, "id")


def test_commands_from_json_name_what_is_wrong() -> None:
    good = b'{"command": "post", "shipment": {"id": "S9", "location": "dock-3", "direction": "in", "items": ["%s"]}}'
    cmd = parse_command(good % A.lower().encode(), "mqtt", "c1")
    assert cmd.order is not None and cmd.order.items == [A] and (cmd.source, cmd.actor) == ("mqtt", "c1")
    cases = [
        (b"{nope", None),
        (b'{"command": "launch"}', "command"),
        (b'{"command": "post"}', "shipment"),
        (
            b'{"command": "post", "shipment": {"id": "S9", "location": "dock-3", "direction": "in", "items": ["xyz"]}}',
            "shipment.items.0",
        ),
        (
            b'{"command": "post", "shipment": {"id": "S9", "location": "dock-3", "direction": "sideways"}}',
            "shipment.direction",
        ),
        (b'{"command": "cancel"}', "id"),
        (b'{"command": "cancel", "id": "a/b#"}', "id"),
    ]
    for payload, field in cases:
        with pytest.raises(CommandError) as info:
            parse_command(payload, "mqtt", "c1")
        assert info.value.field == field, (payload, info.value.reason)


def test_shipment_events_keep_the_event_contract() -> None:
    from tests.conftest import check_event

    book = ShipmentBook(CONFIG)
    post(book)
    events = [event("arrived", A), event("arrived", X), event("arrived", B, location="dock-4")]
    made = book.observe(events, 100.0)
    made += book.observe([event("departed", A, direction="in")], 101.0)
    made.append(close(book))
    post(book, id="S2", items=[C])
    book.observe([event("arrived", C)], 300.0)
    made.append(close(book, 301.0, "S2"))
    assert [e.reason or e.type for e in made] == [
        "unexpected_item",
        "wrong_door",
        "wrong_direction",
        "shipment_exception",
        "shipment_verified",
    ]
    for n, e in enumerate([*events, *made], start=1):
        e.seq = n
        check_event(e.to_payload(), e.reason or e.type)
    broken = made[-1].to_payload() | {"missing": [A]}
    with pytest.raises(AssertionError):
        check_event(broken)  # a verified shipment with something missing breaks the contract


def test_a_door_light_stack_on_a_reader_that_does_not_exist_is_a_config_error() -> None:
    from gateway.domain.errors import ConfigError

    text = """
gateway: {id: gw-1}
readers: [{name: r3, type: llrp, host: 127.0.0.1}]
locations:
  - {name: dock-3, read_points: [{reader: r3}], lights: {reader: r9, exception: {port: 3}}}
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert any("locations[0].lights.reader" in p and "r9" in p for p in info.value.problems), info.value.problems


def test_refusals_and_exceptions_are_counted_in_metrics() -> None:
    from gateway.ops.metrics import GatewayMetrics
    from gateway.ops.snapshot import GatewaySnapshot

    book = ShipmentBook(CONFIG)
    post(book)
    post(book)  # a duplicate: refused
    book.observe([event("arrived", X)], 100.0)
    snap = GatewaySnapshot(
        gateway="gw-1",
        shipment_commands=dict(book.commands),
        shipment_exceptions=dict(book.exceptions),
        doors=book.doors(100.0),
    )
    metrics = GatewayMetrics()
    metrics.attach(lambda: snap)
    text = metrics.render().decode()
    assert 'dockgate_shipment_commands_total{action="post",result="refused",source="test"} 1.0' in text
    assert 'dockgate_shipment_item_exceptions_total{location="dock-3",reason="unexpected_item"} 1.0' in text
    assert 'dockgate_door_shipment_state{location="dock-3",state="open"} 1.0' in text
    assert 'dockgate_door_shipment_state{location="dock-4",state="idle"} 1.0' in text


@pytest.mark.parametrize("items", [[A, B, A], [A, uri_of(A)], [uri_of(B), B]])
def test_an_item_listed_twice_is_refused_naming_the_list(items: list[str]) -> None:
    body = {"id": "S1", "location": "dock-3", "direction": "out", "items": items}
    with pytest.raises(CommandError) as info:
        parse_command(json.dumps({"command": "post", "shipment": body}).encode(), "mqtt", "m")
    assert info.value.field == "shipment.items" and "list each once" in info.value.reason


def test_an_item_at_its_own_door_counts_though_another_door_expects_its_class() -> None:
    book = ShipmentBook(CONFIG)
    post(book, id="R-1", location="dock-4", direction="in", items=[], classes=[{"pattern": SGTIN_CLASS, "quantity": 3}])
    post(book, id="S-1", items=[A])
    assert book.observe([event("arrived", A)], 100.0) == []
    assert book.door("dock-3", 100.0)["seen"] == 1 and book.door("dock-4", 100.0)["seen"] == 0


def test_a_deadline_without_its_offset_is_refused() -> None:
    body = {"id": "S1", "location": "dock-3", "direction": "out", "items": [A], "deadline": "2030-01-01T10:00:00"}
    with pytest.raises(CommandError) as info:
        parse_command(json.dumps({"command": "post", "shipment": body}).encode(), "mqtt", "m")
    assert info.value.field == "shipment.deadline" and "UTC offset" in info.value.reason
