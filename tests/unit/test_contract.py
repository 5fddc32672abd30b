"""The published contract: docs/asyncapi.yaml and docs/event.schema.json agree with each other, with the
config's topic defaults, and with the payloads the gateway builds."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator

from gateway.config import MqttSettings, TopicSettings, parse_config
from gateway.delivery.topics import Topics
from gateway.domain.model import LocationEvent
from gateway.reports.report import REPORT_FIELDS
from gateway.shipments.board import DoorBoard
from gateway.shipments.book import ShipmentBook
from gateway.shipments.commands import CommandError, Reply, parse_command
from tests.conftest import EVENT_SCHEMA, REPO, check_event

DOCS = REPO / "docs"
ASYNCAPI: dict[str, Any] = yaml.safe_load((DOCS / "asyncapi.yaml").read_text(encoding="utf-8"))
T0 = 1_795_940_101.998  # 2026-11-29T08:15:01.998Z


def validator_for(definition: str) -> Draft202012Validator:
    """A validator for one of the schema's ``$defs`` (refs inside it resolve against the whole file)."""
    return Draft202012Validator(
        {"$ref": f"#/$defs/{definition}", "$defs": EVENT_SCHEMA["$defs"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def resolve_local(ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = ASYNCAPI
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def deref(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = resolve_local(node["$ref"])
    return node


EPCIS_SCHEMA_REF = "../tests/data/epcis/EPCIS-JSON-Schema.json"  # GS1's official schema, with its licence


def resolve_file_ref(ref: str) -> Any:
    """``./event.schema.json#/$defs/x`` relative to docs/: the JSON node it names."""
    file, _, pointer = ref.partition("#")
    path = (DOCS / file).resolve()
    assert path.is_file(), f"{ref}: no file {path}"
    node: Any = json.loads(path.read_text(encoding="utf-8"))
    for part in filter(None, pointer.split("/")):
        node = node[part]
    return node


def payload_ref(message: dict[str, Any]) -> str:
    payload = message["payload"]
    if "schemaFormat" in payload:  # a Multi Format Schema Object
        schema_format = payload["schemaFormat"]
        payload = payload["schema"]
        draft = "draft-07" if payload["$ref"] == EPCIS_SCHEMA_REF else "draft-2020-12"
        assert schema_format == f"application/schema+json;version={draft}"
    return str(payload["$ref"])


def channel_messages(name: str) -> list[dict[str, Any]]:
    return [deref(m) for m in ASYNCAPI["channels"][name]["messages"].values()]


def event(kind: str, **changes: Any) -> dict[str, Any]:
    """A payload exactly as the gateway builds it."""
    fields: dict[str, Any] = dict(
        type=kind,
        time=T0 + 0.125,
        gateway="gw-dock-3",
        location="dock-3",
        reader="portal-3",
        epc="3034257BF7194E4000001A85",
        antennas=[1, 2],
        reads=2,
        rssi_max=-52.0,
        first_seen=T0,
        last_seen=T0 + 0.125,
        uri="urn:epc:id:sgtin:0614141.812345.6789",
        seq=7,
    )
    fields.update(changes)
    return LocationEvent(**fields).to_payload()


# --- the AsyncAPI document ----------------------------------------------------------------------------


def test_asyncapi_is_yaml_and_version_3() -> None:
    assert isinstance(ASYNCAPI, dict)
    assert str(ASYNCAPI["asyncapi"]).startswith("3.")
    assert {"info", "servers", "channels", "operations", "components"} <= set(ASYNCAPI)


def test_every_local_ref_resolves() -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#"):
                assert resolve_local(ref) is not None, ref
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(ASYNCAPI)


def test_every_channel_message_payload_refers_to_the_schema_file() -> None:
    seen = {}
    for name in ASYNCAPI["channels"]:
        messages = channel_messages(name)
        assert messages, name
        for message in messages:
            ref = payload_ref(message)
            assert ref.split("#")[0] in ("./event.schema.json", "./present.schema.json", EPCIS_SCHEMA_REF), ref
            target = resolve_file_ref(ref)
            assert isinstance(target, dict) and ("type" in target or "enum" in target or "$schema" in target), ref
            seen[name] = ref
    assert seen == {
        "events": "./event.schema.json",
        "epcis": EPCIS_SCHEMA_REF,
        "gatewayStatus": "./event.schema.json#/$defs/gatewayStatus",
        "readerStatus": "./event.schema.json#/$defs/readerStatus",
        "doorStatus": "./event.schema.json#/$defs/doorStatus",
        "shipmentCommands": "./event.schema.json#/$defs/shipmentCommand",
        "shipmentReplies": "./event.schema.json#/$defs/shipmentReply",
        "presentList": "./present.schema.json",
        "ownerEvents": "./event.schema.json",
        "journalCheckpoint": "./event.schema.json#/$defs/journalCheckpoint",
    }


def test_channel_addresses_are_the_config_defaults() -> None:
    topics = TopicSettings()  # type: ignore[call-arg]
    channels = ASYNCAPI["channels"]
    assert channels["events"]["address"] == topics.events
    assert channels["gatewayStatus"]["address"] == topics.status
    assert channels["readerStatus"]["address"] == topics.reader_status
    for channel in channels.values():
        placeholders = {p.strip("{}") for p in channel["address"].split("/") if p.startswith("{")}
        assert set(channel["parameters"]) == placeholders, channel["address"]
    prefix = deref(channels["events"]["parameters"]["prefix"])
    assert prefix["default"] == MqttSettings().topic_prefix  # type: ignore[call-arg]


def test_channel_addresses_are_the_topics_the_gateway_uses() -> None:
    settings = MqttSettings(topic_prefix="site-7/dockgate")  # type: ignore[call-arg]
    topics = Topics(settings, "gw-dock-3")
    values = {"prefix": "site-7/dockgate", "gateway": "gw-dock-3", "location": "dock-3", "reader": "portal-3"}
    values["owner"] = "acme"
    expected = {
        "events": topics.event("dock-3", "arrived"),
        "epcis": topics.epcis("dock-3", "arrived"),
        "gatewayStatus": topics.status,
        "readerStatus": topics.reader_status("portal-3"),
        "doorStatus": topics.door_status("dock-3"),
        "shipmentCommands": topics.shipment_commands,
        "shipmentReplies": topics.shipment_replies,
        "presentList": topics.present("dock-3"),
        "ownerEvents": topics.owner_event("acme", "dock-3"),
        "journalCheckpoint": topics.journal_checkpoint,
    }
    addresses = {name: c["address"].format(**values) for name, c in ASYNCAPI["channels"].items()}
    assert addresses == expected


@pytest.mark.parametrize(
    ("operation", "action", "channel", "retain"),
    [
        ("publishEvent", "send", "events", False),
        ("publishAvailability", "send", "gatewayStatus", True),
        ("publishReaderStatus", "send", "readerStatus", True),
        ("publishEpcis", "send", "epcis", False),
        ("publishDoorStatus", "send", "doorStatus", True),
        ("publishShipmentReply", "send", "shipmentReplies", False),
        ("publishPresentList", "send", "presentList", True),
        ("publishOwnerEvent", "send", "ownerEvents", False),
        ("publishJournalCheckpoint", "send", "journalCheckpoint", True),
        ("receiveShipmentCommand", "receive", "shipmentCommands", None),  # a subscription: no retain flag
    ],
)
def test_operations_use_qos_1_and_the_right_retain_flag(
    operation: str, action: str, channel: str, retain: bool | None
) -> None:
    op = ASYNCAPI["operations"][operation]
    assert op["action"] == action
    assert op["channel"] == {"$ref": f"#/channels/{channel}"}
    assert op["bindings"]["mqtt"]["qos"] == 1
    assert op["bindings"]["mqtt"].get("retain") is retain
    for message in op["messages"]:
        assert message["$ref"].startswith(f"#/channels/{channel}/messages/")
        resolve_local(message["$ref"])


def test_every_operation_is_listed_above_and_commands_are_answered_on_the_replies_channel() -> None:
    assert set(ASYNCAPI["operations"]) == {
        "publishEvent",
        "publishAvailability",
        "publishReaderStatus",
        "publishEpcis",
        "publishDoorStatus",
        "publishShipmentReply",
        "publishPresentList",
        "publishOwnerEvent",
        "publishJournalCheckpoint",
        "receiveShipmentCommand",
    }
    reply = ASYNCAPI["operations"]["receiveShipmentCommand"]["reply"]
    assert reply["channel"] == {"$ref": "#/channels/shipmentReplies"}
    assert [m["$ref"] for m in reply["messages"]] == ["#/channels/shipmentReplies/messages/shipmentReply"]
    binding = deref(ASYNCAPI["channels"]["shipmentCommands"]["messages"]["shipmentCommand"])["bindings"]["mqtt"]
    assert {"responseTopic", "correlationData"} <= set(binding)


def test_servers_mqtt_and_mqtts_with_the_retained_last_will() -> None:
    servers = ASYNCAPI["servers"]
    assert servers["mqtt"]["protocol"] == "mqtt"
    assert servers["mqtts"]["protocol"] == "secure-mqtt"
    for server in servers.values():
        binding = deref(server["bindings"]["mqtt"])
        assert binding["lastWill"] == {
            "topic": TopicSettings().status,  # type: ignore[call-arg]
            "qos": 1,
            "message": "offline",
            "retain": True,
        }
        assert binding["keepAlive"] == MqttSettings().keepalive  # type: ignore[call-arg]


def test_asyncapi_examples_validate() -> None:
    for name in ASYNCAPI["channels"]:
        for message in channel_messages(name):
            target = resolve_file_ref(payload_ref(message))
            checker: Draft7Validator | Draft202012Validator
            if payload_ref(message) == EPCIS_SCHEMA_REF:  # GS1's schema is draft-07
                checker = Draft7Validator(target)
            else:
                checker = Draft202012Validator(
                    {**target, "$defs": EVENT_SCHEMA["$defs"]}, format_checker=Draft202012Validator.FORMAT_CHECKER
                )
            assert message["examples"], name
            for example in message["examples"]:
                checker.validate(example["payload"])


# --- the JSON Schema ----------------------------------------------------------------------------------


def test_schema_is_a_valid_2020_12_schema() -> None:
    assert EVENT_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(EVENT_SCHEMA)


def test_every_event_field_has_a_description() -> None:
    for name, prop in EVENT_SCHEMA["properties"].items():
        assert prop.get("description"), name
    for definition in (
        "readerStatus",
        "doorStatus",
        "shipmentCommand",
        "shipmentOrder",
        "shipmentReply",
        "shipmentView",
    ):
        for name, prop in EVENT_SCHEMA["$defs"][definition]["properties"].items():
            assert prop.get("description"), f"{definition}.{name}"


def test_schema_lists_exactly_the_fields_the_gateway_sends() -> None:
    sent = set(event("arrived")) | set(event("departed")) | set(event("static", static=True))
    sent |= {"barcode", "matched_epc", "reason"}  # scanned and exception events (tests/unit/test_scanner_fusion.py)
    sent |= {"gpi_port"}  # no_read exceptions (tests/e2e/test_llrp_gpio.py)
    # shipments (tests/unit/test_shipments.py checks each kind against the schema): an item's shipment,
    # its exceptions, the verdict's lists
    sent |= {"shipment", "shipment_direction", "expected_location", "expected_direction", "detail", "close_reason"}
    sent |= {"expected", "seen", "missing", "unexpected", "wrong_door", "wrong_direction"}
    sent |= set(REPORT_FIELDS)  # report events (tests/unit/test_reports.py checks them against the schema)
    sent |= {"hash", "prev_hash"}  # the journal's link, added by the outbox (tests/unit/test_journal_outbox.py)
    # journaled commands (tests/e2e/test_journal_commands.py) and who moved it (tests/unit/test_actors.py)
    sent |= {"command", "source", "by", "order", "config_sha256", "readers_restarted", "operator", "vehicle"}
    assert set(EVENT_SCHEMA["properties"]) == sent | {"gap_before"}
    assert set(EVENT_SCHEMA["required"]) == set(event("arrived"))


GOLDEN = {
    "arrived": event("arrived"),
    "arrived, no RSSI, no GS1 URI, EPC of 128 bits": event(
        "arrived", epc="E28011606000020A4B1C000100000001", uri=None, rssi_max=None, antennas=[3]
    ),
    "departed": event(
        "departed", antennas=[1, 2, 3, 4], reads=97, last_seen=T0 + 3.482, direction="in", direction_confidence=0.83
    ),
    "departed, direction unknown": event("departed", direction=None, direction_confidence=0.0),
    "departed, a static tag released": event("departed", static=True, last_seen=T0 + 400.0, direction=None),
    "static": event("static", static=True, last_seen=T0 + 300.5, reads=2400),
    "with gap_before": {**event("arrived", seq=1042), "gap_before": 17},
    "SSCC": event("arrived", epc="3114257BF442F69715000000", uri="urn:epc:id:sscc:0614141.1123456789"),
    "exception no_read": {
        **{k: v for k, v in event("arrived").items() if k not in ("epc",)},
        "type": "exception",
        "epc": None,
        "uri": None,
        "antennas": [],
        "reads": 0,
        "rssi_max": None,
        "reason": "no_read",
        "gpi_port": 1,
    },
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_payloads_validate(name: str) -> None:
    payload = json.loads(json.dumps(GOLDEN[name]))  # as a consumer sees it: through JSON
    check_event(payload, name)


def broken(name: str, change: Any) -> tuple[str, dict[str, Any]]:
    payload = copy.deepcopy(GOLDEN["departed"])
    change(payload)
    return name, payload


BROKEN = [
    broken("missing seq", lambda p: p.pop("seq")),
    broken("seq 0", lambda p: p.update(seq=0)),
    broken("seq as a string", lambda p: p.update(seq="7")),
    broken("lowercase epc", lambda p: p.update(epc=p["epc"].lower())),
    broken("epc not hex", lambda p: p.update(epc="3034257BF7194E4000001A8Z")),
    broken("extra field", lambda p: p.update(note="hello")),
    broken("bad time format: no milliseconds", lambda p: p.update(time="2026-11-29T08:15:02Z")),
    broken("bad time format: offset instead of Z", lambda p: p.update(first_seen="2026-11-29T08:15:01.998+00:00")),
    broken("bad time format: no T", lambda p: p.update(last_seen="2026-11-29 08:15:05.480Z")),
    broken("bad time: month 13", lambda p: p.update(time="2026-13-29T08:15:02.123Z")),
    broken("id not a UUID", lambda p: p.update(id="event-7")),
    broken("id uppercase", lambda p: p.update(id=p["id"].upper())),
    broken("unknown type", lambda p: p.update(type="moved")),
    broken("uri not an EPC pure identity URI", lambda p: p.update(uri="urn:epc:tag:sgtin-96:1.0614141.812345.6789")),
    broken("antennas empty", lambda p: p.update(antennas=[])),
    broken("antennas repeated", lambda p: p.update(antennas=[1, 1])),
    broken("reads 0", lambda p: p.update(reads=0)),
    broken("departed without direction", lambda p: p.pop("direction")),
    broken("departed without dwell_s", lambda p: p.pop("dwell_s")),
    broken("direction sideways", lambda p: p.update(direction="sideways")),
    broken("direction_confidence above 1", lambda p: p.update(direction_confidence=1.5)),
    broken("direction given with confidence below 0.6", lambda p: p.update(direction_confidence=0.55)),
    broken("negative dwell", lambda p: p.update(dwell_s=-1.0)),
    broken("gap_before 0", lambda p: p.update(gap_before=0)),
    broken("arrived with departure fields", lambda p: p.update(type="arrived")),
    broken("static with direction", lambda p: p.update(type="static", static=True)),
    broken(
        "static that is not static",
        lambda p: (p.update(type="static"), p.pop("direction"), p.pop("direction_confidence")),
    ),
    broken("location with a topic separator", lambda p: p.update(location="dock/3")),
]


@pytest.mark.parametrize(("name", "payload"), BROKEN, ids=[name for name, _ in BROKEN])
def test_broken_payloads_do_not_validate(name: str, payload: dict[str, Any]) -> None:
    with pytest.raises(AssertionError, match=r"breaks docs/event\.schema\.json"):
        check_event(payload, name)


def test_the_error_names_the_field() -> None:
    payload = {**GOLDEN["arrived"], "epc": "3034257bf7194e4000001a85"}
    with pytest.raises(AssertionError, match=r"epc: '3034257bf7194e4000001a85' does not match"):
        check_event(payload)


def test_reader_status_and_availability() -> None:
    status = validator_for("readerStatus")
    good = {"reader": "portal-3", "state": "connected", "since": "2026-11-29T08:00:00.412Z", "detail": "inventorying"}
    status.validate(good)
    status.validate({**good, "state": "connecting", "detail": ""})
    status.validate({**good, "state": "idle", "detail": "no tag report for 30s (no_reads_after 30s) ..."})
    status.validate({**good, "antennas": {"1": "connected", "2": "disconnected"}, "gpi": {"1": "active"}})
    for bad in (
        {**good, "state": "online"},
        {**good, "since": "yesterday"},
        {k: v for k, v in good.items() if k != "detail"},
        {**good, "extra": 1},
    ):
        assert not status.is_valid(bad), bad
    availability = validator_for("gatewayStatus")
    for text in ("online", "offline"):
        availability.validate(text)
    assert not availability.is_valid("Online")
    assert not availability.is_valid({"state": "online"})


# --- shipments: what the core builds validates against the $defs ------------------------------------

SHIPMENT_CONFIG = parse_config(
    """
gateway: {id: gw-dock-3}
readers:
  - {name: portal-3, type: llrp, host: 127.0.0.1}
  - {name: portal-4, type: llrp, host: 127.0.0.2}
locations:
  - {name: dock-3, read_points: [{reader: portal-3}]}
  - {name: dock-4, read_points: [{reader: portal-4}]}
shipments: {max_items: 50}
"""
)
CASE_A, CASE_B, PALLET_X = (f"30340242201D8840009EFC0{n}" for n in "123")
STRAY, CARTON = "3034257BF7194E4000003C01", "3034257BF7194E4000003C02"  # not of CLASS
SSCC = "urn:epc:id:sscc:0614141.1123456789"
SSCC_HEX = "3114257BF442F69715000000"  # SSCC above: ASN-7's pallet, mis-loaded at dock-4 (not of PO-4411's class)
CLASS = "urn:epc:idpat:sgtin:0037000.030241.*"  # the class of the EPCs above


def item(kind: str, epc: str, t: float, location: str = "dock-3", direction: str | None = None) -> LocationEvent:
    from gateway.core.identity import epc_uri

    return LocationEvent(
        type=kind,
        time=t,
        gateway="gw-dock-3",
        location=location,
        reader="portal-3" if location == "dock-3" else "portal-4",
        epc=epc,
        antennas=[1],
        reads=3,
        rssi_max=-50.0,
        first_seen=t,
        last_seen=t,
        uri=epc_uri(epc),
        direction=direction,
    )


def command(book: ShipmentBook, action: str, shipment_id: str, now: float, **order: Any) -> dict[str, Any]:
    """Through ``parse_command`` as MQTT hands it over, answered by the book: the reply as JSON."""
    doc: dict[str, Any] = {"command": action}
    if action == "post":
        doc["shipment"] = {"id": shipment_id, **order}
    else:
        doc["id"] = shipment_id
    validator_for("shipmentCommand").validate(doc)
    cmd = parse_command(json.dumps(doc).encode(), "mqtt", "mqtt")
    reply, _ = book.command(cmd, now)
    return json.loads(json.dumps(reply.to_json(cmd.action, cmd.shipment_id)))


def door_statuses(book: ShipmentBook, now: float) -> list[dict[str, Any]]:
    """Each door's retained status exactly as the board publishes it."""
    published: list[bytes] = []
    DoorBoard().update(book.doors(now), 1, True, lambda _location, payload: published.append(payload))
    return [json.loads(p) for p in published]


def test_what_the_core_builds_for_shipments_validates_against_the_schema() -> None:
    book = ShipmentBook(SHIPMENT_CONFIG)
    replies, doors, views = validator_for("shipmentReply"), validator_for("doorStatus"), validator_for("shipmentView")
    seen: list[dict[str, Any]] = []
    seen += door_statuses(book, 10.0)  # idle
    replies_made = [
        command(book, "post", "ASN-7", 10.0, location="dock-3", direction="out", items=[CASE_A.lower(), CASE_B, SSCC]),
        command(
            book,
            "post",
            "PO-4411",
            11.0,
            location="dock-4",
            direction="in",
            classes=[{"pattern": CLASS, "quantity": 2}],
            deadline="2033-05-18T10:00:00Z",
            close_after="2m",
            biz_transaction="urn:epcglobal:cbv:bt:0614141000005:PO-4411",
        ),
    ]
    seen += door_statuses(book, 12.0)  # open
    book.observe([item("arrived", CASE_A, 100.0), item("arrived", PALLET_X, 100.0, location="dock-4")], 100.0)
    book.observe([item("arrived", STRAY, 101.0, location="dock-4"), item("arrived", SSCC_HEX, 101.0, "dock-4")], 101.0)
    book.observe([item("departed", CASE_A, 104.0, direction="in")], 104.0)  # the wrong way
    seen += door_statuses(book, 105.0)  # loading, with every list filled
    assert {d["state"] for d in seen} == {"idle", "open", "loading"}
    assert any(d["unexpected"] for d in seen if "unexpected" in d)
    assert any(d["wrong_door"] for d in seen if "wrong_door" in d)
    assert any(d["wrong_direction"] for d in seen if "wrong_direction" in d)
    replies_made.append(command(book, "close", "ASN-7", 200.0))
    replies_made.append(command(book, "post", "ASN-8", 201.0, location="dock-3", direction="out", items=[CASE_A]))
    replies_made.append(command(book, "cancel", "ASN-8", 202.0))
    seen += door_statuses(book, 203.0)  # exception at dock-3
    replies_made.append(command(book, "acknowledge", "ASN-7", 204.0))
    replies_made.append(command(book, "post", "ASN-9", 205.0, location="dock-3", direction="out", items=[CARTON]))
    book.observe([item("arrived", CARTON, 206.0)], 206.0)
    replies_made.append(command(book, "close", "ASN-9", 207.0))
    seen += door_statuses(book, 208.0)  # verified at dock-3
    assert {d["state"] for d in seen} == {"idle", "open", "loading", "exception", "verified"}

    refusals = [
        command(book, "post", "ASN-7", 300.0, location="dock-3", direction="out", items=[CASE_A]),  # duplicate id
        command(book, "post", "X-1", 300.0, location="dock-4", direction="in", items=[CASE_A]),  # door busy
        command(
            book,
            "post",
            "X-2",
            300.0,
            location="dock-3",
            direction="out",
            items=[f"30340242201D8840009F{n:04X}" for n in range(51)],
        ),  # over max
        command(book, "close", "nope", 300.0),  # unknown shipment
        command(book, "cancel", "ASN-7", 300.0),  # already closed
        command(book, "acknowledge", "PO-4411", 300.0),  # not an exception
    ]
    assert [r.get("field") for r in refusals] == ["id", "location", "items", "id", None, None]
    for payload in (b"{nope", b"[]", b'{"command": "launch"}', b'{"command": "post", "shipment": {"id": "S"}}'):
        try:
            parse_command(payload, "mqtt", "mqtt")
        except CommandError as exc:  # as gateway.shipments.mqtt_commands answers it
            refusals.append(Reply(False, 422, exc.reason, exc.field).to_json("?", None) | {"correlation": "req-9"})
        else:
            raise AssertionError(payload)

    for doc in [*replies_made, *refusals]:
        replies.validate(doc)
    assert [r["result"] for r in replies_made] == ["accepted"] * len(replies_made)
    assert [r["result"] for r in refusals] == ["refused"] * len(refusals)
    for doc in seen:
        doors.validate(doc)
    for view in json.loads(json.dumps(book.views())).values():
        views.validate(view)
    loading = next(d for d in seen if d["state"] == "loading")
    assert not doors.is_valid({k: v for k, v in loading.items() if k != "seen"})
    assert not replies.is_valid({**replies_made[0], "result": "refused"})  # refused needs a reason
    assert not views.is_valid({**book.views()["ASN-7"], "closed": None})  # closed without a time
    assert {v["state"] for v in book.views().values()} == {"loading", "exception", "cancelled", "verified"}


def test_the_api_door_view_is_the_door_status_without_updated() -> None:
    book = ShipmentBook(SHIPMENT_CONFIG)
    command(book, "post", "ASN-7", 10.0, location="dock-3", direction="out", items=[CASE_A])
    (status, _) = door_statuses(book, 11.0)
    assert status.pop("updated")
    assert status == book.door("dock-3", 11.0)


LOADING_DOOR = {
    "location": "dock-3",
    "state": "loading",
    "shipment": "ASN-7",
    "direction": "out",
    "seen": 1,
    "expected": 2,
    "missing": [CASE_B],
    "unexpected": [],
    "wrong_door": [],
    "wrong_direction": [],
    "updated": "2026-11-29T08:15:02.140Z",
}
ACCEPTED_CLOSE = {"command": "close", "id": "ASN-7", "result": "accepted"}
REFUSED = {"command": "post", "id": "ASN-7", "result": "refused", "reason": "shipment ASN-7 exists", "field": "id"}
POST = {"command": "post", "shipment": {"id": "ASN-7", "location": "dock-3", "direction": "out", "items": [CASE_A]}}

BROKEN_SHIPMENT_DOCS = [
    ("doorStatus", "idle with progress", {**LOADING_DOOR, "state": "idle"}),
    ("doorStatus", "loading without a shipment", {**LOADING_DOOR, "shipment": None}),
    ("doorStatus", "no updated", {k: v for k, v in LOADING_DOOR.items() if k != "updated"}),
    ("doorStatus", "verified with something missing", {**LOADING_DOOR, "state": "verified"}),
    ("doorStatus", "cancelled is never shown", {**LOADING_DOOR, "state": "cancelled"}),
    ("doorStatus", "lowercase EPC", {**LOADING_DOOR, "unexpected": [{"epc": CASE_A.lower(), "uri": None}]}),
    ("doorStatus", "an extra field", {**LOADING_DOOR, "progress": 0.5}),
    ("shipmentReply", "accepted with a reason", {**ACCEPTED_CLOSE, "reason": "fine"}),
    ("shipmentReply", "refused without a reason", {k: v for k, v in REFUSED.items() if k != "reason"}),
    ("shipmentReply", "result ok", {**ACCEPTED_CLOSE, "result": "ok"}),
    ("shipmentReply", "accepted post without the shipment", {**ACCEPTED_CLOSE, "command": "post"}),
    ("shipmentReply", "accepted without an id", {**ACCEPTED_CLOSE, "id": None}),
    ("shipmentCommand", "post without the shipment", {"command": "post"}),
    ("shipmentCommand", "close without an id", {"command": "close"}),
    ("shipmentCommand", "unknown command", {**POST, "command": "launch"}),
    ("shipmentCommand", "an id with a topic separator", {"command": "cancel", "id": "a/b"}),
    ("shipmentCommand", "an unknown order field", {"command": "post", "shipment": {**POST["shipment"], "qty": 1}}),
    ("shipmentCommand", "nothing expected", {"command": "post", "shipment": {**POST["shipment"], "items": []}}),
    (
        "shipmentCommand",
        "an item that is no EPC",
        {"command": "post", "shipment": {**POST["shipment"], "items": ["x"]}},
    ),
    (
        "shipmentCommand",
        "a pattern as an item",
        {"command": "post", "shipment": {**POST["shipment"], "items": [CLASS]}},
    ),
    ("shipmentCommand", "direction sideways", {"command": "post", "shipment": {**POST["shipment"], "direction": "up"}}),
]


@pytest.mark.parametrize(
    ("definition", "name", "doc"), BROKEN_SHIPMENT_DOCS, ids=[f"{d}: {n}" for d, n, _ in BROKEN_SHIPMENT_DOCS]
)
def test_broken_shipment_documents_do_not_validate(definition: str, name: str, doc: dict[str, Any]) -> None:
    assert not validator_for(definition).is_valid(doc), name


def test_the_good_ones_the_broken_ones_come_from_validate() -> None:
    validator_for("doorStatus").validate(LOADING_DOOR)
    validator_for("shipmentReply").validate(ACCEPTED_CLOSE)
    validator_for("shipmentReply").validate(REFUSED)
    validator_for("shipmentCommand").validate(POST)


COMMANDS_PARSE_REFUSES = [
    (n, d) for k, n, d in BROKEN_SHIPMENT_DOCS if k == "shipmentCommand" and n != "nothing expected"
]


@pytest.mark.parametrize(("name", "doc"), COMMANDS_PARSE_REFUSES, ids=[n for n, _ in COMMANDS_PARSE_REFUSES])
def test_a_command_the_schema_refuses_the_gateway_refuses_too(name: str, doc: dict[str, Any]) -> None:
    with pytest.raises(CommandError):  # "nothing expected" is the book's refusal (field items), after parsing
        parse_command(json.dumps(doc).encode(), "mqtt", "mqtt")
