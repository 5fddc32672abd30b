"""The published contract: docs/asyncapi.yaml and docs/event.schema.json agree with each other, with the
config's topic defaults, and with the payloads the gateway builds."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator

from gateway.config import MqttSettings, TopicSettings
from gateway.domain.model import LocationEvent
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
            assert ref.split("#")[0] in ("./event.schema.json", EPCIS_SCHEMA_REF), ref
            target = resolve_file_ref(ref)
            assert isinstance(target, dict) and ("type" in target or "enum" in target or "$schema" in target), ref
            seen[name] = ref
    assert seen == {
        "events": "./event.schema.json",
        "epcis": EPCIS_SCHEMA_REF,
        "gatewayStatus": "./event.schema.json#/$defs/gatewayStatus",
        "readerStatus": "./event.schema.json#/$defs/readerStatus",
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


@pytest.mark.parametrize(
    ("operation", "channel", "retain"),
    [
        ("publishEvent", "events", False),
        ("publishAvailability", "gatewayStatus", True),
        ("publishReaderStatus", "readerStatus", True),
    ],
)
def test_operations_send_with_qos_1_and_the_right_retain_flag(operation: str, channel: str, retain: bool) -> None:
    op = ASYNCAPI["operations"][operation]
    assert op["action"] == "send"
    assert op["channel"] == {"$ref": f"#/channels/{channel}"}
    assert op["bindings"]["mqtt"]["qos"] == 1
    assert op["bindings"]["mqtt"]["retain"] is retain
    for message in op["messages"]:
        assert message["$ref"].startswith(f"#/channels/{channel}/messages/")
        resolve_local(message["$ref"])


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
    for name, prop in EVENT_SCHEMA["$defs"]["readerStatus"]["properties"].items():
        assert prop.get("description"), name


def test_schema_lists_exactly_the_fields_the_gateway_sends() -> None:
    sent = set(event("arrived")) | set(event("departed")) | set(event("static", static=True))
    sent |= {"barcode", "matched_epc", "reason"}  # scanned and exception events (tests/unit/test_scanner_fusion.py)
    sent |= {"gpi_port"}  # no_read exceptions (tests/e2e/test_llrp_gpio.py)
    # shipments (tests/unit/test_shipments.py checks each kind against the schema): an item's shipment,
    # its exceptions, the verdict's lists
    sent |= {"shipment", "shipment_direction", "expected_location", "expected_direction", "detail", "close_reason"}
    sent |= {"expected", "seen", "missing", "unexpected", "wrong_door", "wrong_direction"}
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
    broken("direction given with confidence below 0.1", lambda p: p.update(direction_confidence=0.05)),
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
