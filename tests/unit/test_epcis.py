"""EPCIS 2.0 output: documents valid against the official GS1 JSON Schema for every event type, the event hash
ID checked on a published reference example, EPCIS documents through the outbox, and end to end over mosquitto."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker

from gateway.config import parse_config
from gateway.delivery.epcis import (
    EpcisRenderer,
    canonical_uri,
    check_digit,
    event_hash_id,
    object_event,
    prehash,
    raw_uri,
    time_zone_offset,
)
from gateway.delivery.outbox import Outbox
from gateway.delivery.topics import Topics
from gateway.domain.errors import ConfigError
from gateway.domain.model import LocationEvent
from simulators.llrp.scenario import load_scenario
from tests.conftest import REPO, Broker, Subscriber, wait_until
from tests.e2e.test_e2e import QUICK, spawn, start_simulator, stop

SCHEMA = json.loads((REPO / "tests" / "data" / "epcis" / "EPCIS-JSON-Schema.json").read_text(encoding="utf-8"))
_FORMATS = FormatChecker()


@_FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    # jsonschema checks "uri" only with an optional package; an absolute URI per RFC 3986 is what matters here
    return not isinstance(value, str) or re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+", value) is not None


@_FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


VALIDATOR = Draft7Validator(SCHEMA, format_checker=_FORMATS)


def check_epcis(doc: dict[str, Any]) -> None:
    """The document, and each of its events on its own, against the GS1 EPCIS 2.0 JSON Schema."""
    items = [("document", doc)] + [
        (f"event {i}", {"@context": doc["@context"], **event}) for i, event in enumerate(doc["epcisBody"]["eventList"])
    ]
    for where, item in items:
        problems = [
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in VALIDATOR.iter_errors(item)
        ]
        assert not problems, f"{where} breaks the EPCIS 2.0 JSON Schema: {problems}\n{json.dumps(item, indent=1)}"


CONFIG = """\
gateway: {id: gw-test}
mqtt: {epcis: true}
readers:
  - {name: portal-3, type: llrp, host: 127.0.0.1, port: 5084, antennas: [1, 2, 3, 4]}
locations:
  - name: dock-3
    read_points: [{reader: portal-3}]
    epcis:
      read_point: urn:epc:id:sgln:0614141.00777.3
      biz_location: urn:epc:id:sgln:0614141.00777.0
      biz_step: arriving
      disposition: urn:epcglobal:cbv:disp:in_progress
      time_zone: Europe/Berlin
      inbound: {biz_step: receiving, disposition: in_progress}
      outbound: {biz_step: shipping, disposition: in_transit}
"""
SGTIN_HEX = "3034257BF7194E4000001A85"
SGTIN_URI = "urn:epc:id:sgtin:0614141.812345.6789"
T0 = 1_795_000_000.25  # 2026-11-18T11:06:40.250Z


def make_event(kind: str = "arrived", **changes: Any) -> LocationEvent:
    fields: dict[str, Any] = {
        "type": kind,
        "time": T0,
        "gateway": "gw-test",
        "location": "dock-3",
        "reader": "portal-3",
        "epc": SGTIN_HEX,
        "uri": SGTIN_URI,
        "antennas": [1, 2],
        "reads": 12,
        "rssi_max": -51.0,
        "first_seen": T0 - 1,
        "last_seen": T0,
    }
    fields.update(changes)
    return LocationEvent(**fields)


@pytest.fixture
def renderer() -> EpcisRenderer:
    config = parse_config(CONFIG)
    return EpcisRenderer(config, Topics(config.mqtt, config.gateway.id), clock=lambda: T0 + 0.5)


# ---- the event hash ID ---------------------------------------------------------------------------------------

# The reference implementation's published example (github.com/RalphTro/epcis-event-hash-generator,
# tests/examples/epcisDocWithSingleEvent.{jsonld,prehashes,hashes}): the event, its pre-hash string and hash.
REFERENCE_EVENT = {
    "type": "ObjectEvent",
    "action": "OBSERVE",
    "bizStep": "shipping",
    "disposition": "in_transit",
    "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
    "eventTime": "2022-02-16T20:33:31.116000-06:00",
    "eventTimeZoneOffset": "-06:00",
    "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
    "bizTransactionList": [{"type": "po", "bizTransaction": "http://transaction.acme.com/po/12345678"}],
}
REFERENCE_PREHASH = (
    "eventType=ObjectEventeventTime=2022-02-17T02:33:31.116ZeventTimeZoneOffset=-06:00"
    "epcListepc=https://id.gs1.org/01/10614141073464/21/2017epc=https://id.gs1.org/01/10614141073464/21/2018"
    "action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-shippingdisposition=https://ref.gs1.org/cbv/Disp-in_transit"
    "readPointid=https://id.gs1.org/414/0614141073467/254/1234"
    "bizTransactionListbizTransaction=http://transaction.acme.com/po/12345678type=https://ref.gs1.org/cbv/BTT-po"
)
REFERENCE_HASH = "ni:///sha-256;3e0f2437f4cb5e8a1b832b769c0eed1bf3e1421f14061132e9800ded03f10182?ver=CBV2.0"


def test_hash_matches_the_reference_implementation_example() -> None:
    assert prehash(REFERENCE_EVENT) == REFERENCE_PREHASH
    assert event_hash_id(REFERENCE_EVENT) == REFERENCE_HASH


def test_hash_ignores_member_order_record_time_and_event_id_and_cbv_spelling() -> None:
    shuffled = dict(reversed(list(REFERENCE_EVENT.items())))
    shuffled["epcList"] = list(reversed(REFERENCE_EVENT["epcList"]))
    shuffled["recordTime"] = "2030-01-01T00:00:00Z"
    shuffled["eventID"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
    shuffled["bizStep"] = "urn:epcglobal:cbv:bizstep:shipping"
    shuffled["eventTime"] = "2022-02-17T02:33:31.116Z"
    assert event_hash_id(shuffled) == REFERENCE_HASH


def test_hash_refuses_fields_it_does_not_implement() -> None:
    with pytest.raises(ValueError, match="quantityList"):
        prehash({**REFERENCE_EVENT, "quantityList": []})


@pytest.mark.parametrize(
    ("urn", "digital_link"),
    [
        ("urn:epc:id:sgtin:0614141.812345.6789", "https://id.gs1.org/01/80614141123458/21/6789"),
        # the SSCC of FIELD-NOTES (biip): 106141411234567897
        ("urn:epc:id:sscc:0614141.1123456789", "https://id.gs1.org/00/106141411234567897"),
        ("urn:epc:id:sgln:0614141.12345.0", "https://id.gs1.org/414/0614141123452"),
        ("urn:epc:id:sgln:0614141.12345.400", "https://id.gs1.org/414/0614141123452/254/400"),
        ("urn:epc:id:grai:0614141.12345.400", "https://id.gs1.org/8003/00614141123452400"),
        ("urn:epc:id:giai:0614141.12345400", "https://id.gs1.org/8004/061414112345400"),
        ("urn:epc:id:gid:268435455.16777215.68719476735", "urn:epc:id:gid:268435455.16777215.68719476735"),
        ("urn:epc:raw:96.x3034257BF7194E4000001A85", "urn:epc:raw:96.x3034257BF7194E4000001A85"),
    ],
)
def test_epc_uris_become_canonical_digital_link_uris(urn: str, digital_link: str) -> None:
    assert canonical_uri(urn) == digital_link


def test_check_digit_and_time_normalisation() -> None:
    assert check_digit("061414107346") == "7"  # GLN of urn:epc:id:sgln:0614141.07346.* in the reference example
    assert check_digit("1061414107346") == "4"  # GTIN of urn:epc:id:sgtin:0614141.107346.*
    event = {**REFERENCE_EVENT, "eventTime": "2022-02-17T02:33:31.1165Z"}
    assert "eventTime=2022-02-17T02:33:31.117Z" in prehash(event)  # half up, from the 4th decimal
    event = {**REFERENCE_EVENT, "eventTime": "2022-02-17T02:33:31+00:00"}
    assert "eventTime=2022-02-17T02:33:31.000Z" in prehash(event)


# ---- documents ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "changes", "step", "disposition"),
    [
        ("arrived", {}, "arriving", "in_progress"),
        ("departed", {"direction": "in", "direction_confidence": 0.9}, "receiving", "in_progress"),
        ("departed", {"direction": "out", "direction_confidence": 0.9}, "shipping", "in_transit"),
        ("departed", {"direction": None}, "arriving", "in_progress"),
        ("scanned", {"extra": {"barcode": "]C100106141411234567897"}}, "arriving", "in_progress"),
        ("arrived", {"uri": None}, "arriving", "in_progress"),  # no GS1 identity: EPC raw URI
    ],
)
def test_every_event_type_is_a_valid_epcis_document(
    renderer: EpcisRenderer, kind: str, changes: dict[str, Any], step: str, disposition: str
) -> None:
    event = make_event(kind, **changes)
    doc = renderer.document_for(event)
    assert doc is not None
    check_epcis(doc)
    assert doc["type"] == "EPCISDocument" and doc["id"] == f"urn:uuid:{event.id}"
    [ev] = doc["epcisBody"]["eventList"]
    assert ev["type"] == "ObjectEvent" and ev["action"] == "OBSERVE"
    assert ev["epcList"] == [event.uri or raw_uri(SGTIN_HEX)]
    assert (ev["bizStep"], ev["disposition"]) == (step, disposition)
    assert ev["readPoint"] == {"id": "urn:epc:id:sgln:0614141.00777.3"}
    assert ev["bizLocation"] == {"id": "urn:epc:id:sgln:0614141.00777.0"}
    assert ev["eventTime"] == "2026-11-18T11:06:40.250Z"
    assert ev["eventTimeZoneOffset"] == "+01:00"  # Europe/Berlin in November
    assert re.fullmatch(r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0", ev["eventID"])
    assert ev["eventID"] == event_hash_id(ev)


def test_raw_uri_of_a_tag_without_gs1_identity() -> None:
    assert raw_uri("E2801160600002084A2B5C3F") == "urn:epc:raw:96.xE2801160600002084A2B5C3F"


@pytest.mark.parametrize(
    "event",
    [make_event("static", static=True), make_event("exception", reason="no_read")],
    ids=["static", "exception"],
)
def test_diagnostic_events_have_no_epcis_form(renderer: EpcisRenderer, event: LocationEvent) -> None:
    assert renderer(event) is None


def test_minimal_settings_still_valid_and_skip_non_gs1() -> None:
    config = parse_config(CONFIG.split("    epcis:")[0] + "    epcis: {non_gs1: skip}\n")
    renderer = EpcisRenderer(config, Topics(config.mqtt, config.gateway.id))
    doc = renderer.document_for(make_event())
    assert doc is not None
    check_epcis(doc)
    [ev] = doc["epcisBody"]["eventList"]
    assert ev["eventTimeZoneOffset"] == "+00:00"
    assert not {"bizStep", "disposition", "readPoint", "bizLocation"} & set(ev)
    assert renderer(make_event(uri=None)) is None


def test_two_identical_events_give_the_same_event_id(renderer: EpcisRenderer) -> None:
    first = object_event(make_event(), parse_config(CONFIG).locations[0].epcis)
    # another gateway, another UUID, seq, read count and signal: the same physical observation
    again = object_event(
        make_event(reads=3, rssi_max=-70.0, antennas=[4], gateway="gw-other", reader="portal-9", seq=77),
        parse_config(CONFIG).locations[0].epcis,
    )
    assert first is not None and again is not None
    assert first["eventID"] == again["eventID"]
    assert first == again


@pytest.mark.parametrize(
    "change",
    [
        {"time": T0 + 0.001},
        {"uri": "urn:epc:id:sgtin:0614141.812345.6790"},
        {"uri": None},
        {"type": "departed", "direction": "out"},
    ],
)
def test_any_change_of_the_event_changes_the_event_id(renderer: EpcisRenderer, change: dict[str, Any]) -> None:
    base = renderer.document_for(make_event())
    changed = renderer.document_for(make_event(**change))
    assert base is not None and changed is not None
    assert base["epcisBody"]["eventList"][0]["eventID"] != changed["epcisBody"]["eventList"][0]["eventID"]


@pytest.mark.parametrize(
    "setting",
    [
        "read_point: urn:epc:id:sgln:0614141.00777.4",
        "biz_location: urn:epc:id:sgln:0614141.00778.0",
        "biz_step: receiving",
        "disposition: in_transit",
        "time_zone: '-05:00'",
    ],
)
def test_any_change_of_the_settings_changes_the_event_id(setting: str) -> None:
    key = setting.split(":")[0]
    lines = [line for line in CONFIG.splitlines() if not line.strip().startswith(f"{key}:")]
    changed = parse_config("\n".join(lines) + f"\n      {setting}\n")
    a = object_event(make_event(), parse_config(CONFIG).locations[0].epcis)
    b = object_event(make_event(), changed.locations[0].epcis)
    assert a is not None and b is not None and a["eventID"] != b["eventID"]


def test_time_zone_offset_follows_daylight_saving() -> None:
    assert time_zone_offset("Europe/Berlin", 1_790_000_000) == "+02:00"  # September 2026
    assert time_zone_offset("America/Chicago", T0) == "-06:00"
    assert time_zone_offset("+05:30", T0) == "+05:30"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("biz_step: recieving", "locations[0].epcis.biz_step: 'recieving' is neither a CBV bizStep"),
        ("disposition: urn:epcglobal:cbv:disp:nonsense", "locations[0].epcis.disposition: 'nonsense' is neither"),
        ("time_zone: Mars/Olympus", "locations[0].epcis.time_zone: unknown time zone 'Mars/Olympus'"),
        ("read_point: dock 3", "locations[0].epcis.read_point: expected a URI such as urn:epc:id:sgln"),
        ("inbound: {biz_step: 3}", "locations[0].epcis.inbound.biz_step: expected a CBV bizStep"),
        ("non_gs1: drop", "locations[0].epcis.non_gs1: expected one of 'raw' or 'skip'"),
    ],
)
def test_bad_epcis_settings_name_the_field(setting: str, message: str) -> None:
    text = CONFIG.split("    epcis:")[0] + f"    epcis:\n      {setting}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert any(problem.startswith(message) for problem in info.value.problems), info.value.problems


def test_cbv_urns_are_written_bare_and_own_vocabulary_uris_kept() -> None:
    config = parse_config(CONFIG.replace("biz_step: arriving", "biz_step: https://example.com/steps/weighing"))
    settings = config.locations[0].epcis
    assert settings.disposition == "in_progress"
    assert settings.biz_step == "https://example.com/steps/weighing"
    assert config.mqtt.topics.epcis == "{prefix}/{gateway}/epcis/{location}"


# ---- through the outbox --------------------------------------------------------------------------------------


def test_outbox_stores_the_document_in_the_event_row_without_using_a_seq(
    tmp_path: Path, renderer: EpcisRenderer
) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.open()
    events = [make_event(), make_event("static", static=True), make_event("departed", direction="in")]
    outbox.append(events, lambda e: f"dockgate/gw-test/events/{e.location}", epcis_of=renderer)
    assert [e.seq for e in events] == [1, 2, 3]
    items = outbox.next_batch(0, 10)
    assert [i.seq for i in items] == [1, 2, 3]
    assert [i.epcis_topic for i in items] == ["dockgate/gw-test/epcis/dock-3", None, "dockgate/gw-test/epcis/dock-3"]
    for item in items:
        if item.epcis_payload is not None:
            check_epcis(json.loads(item.epcis_payload))
    assert outbox.pending_bytes == sum(len(i.payload) + len(i.epcis_payload or b"") for i in items)
    outbox.accept([1, 2, 3])
    assert outbox.pending_count() == 0 and outbox.pending_bytes == 0
    outbox.close()


def test_an_outbox_from_before_epcis_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,"
        " created REAL NOT NULL);"
        "INSERT INTO events VALUES (1, 'x', 't', X'7B7D', 0); INSERT INTO meta VALUES ('last_seq', 1);"
    )
    db.commit()
    db.close()
    outbox = Outbox(path)
    outbox.open()
    [item] = outbox.next_batch(0, 10)
    assert (item.seq, item.payload, item.epcis_topic, item.epcis_payload) == (1, b"{}", None, None)
    outbox.close()


# ---- end to end: mosquitto, the LLRP simulator over TCP, `dockgate run` ---------------------------------------


@pytest.mark.e2e  # a child process or TCP: end to end, in a file of unit tests
def test_epcis_documents_are_published_end_to_end(
    tmp_path: Path, mosquitto: Broker, subscribe: type[Subscriber]
) -> None:
    sim, reader_port = start_simulator(QUICK)
    sub = subscribe("dockgate/#")
    config = tmp_path / "gateway.yaml"
    config.write_text(
        CONFIG.replace(
            "mqtt: {epcis: true}", f"mqtt: {{host: 127.0.0.1, port: {mosquitto.port}, epcis: true}}"
        ).replace("port: 5084", f"port: {reader_port}")
        + "pipeline: {arrive_min_reads: 2, arrive_window: 1s, depart_after: 1s}\n"
        + f"outbox: {{path: {tmp_path / 'outbox.db'}}}\n"
    )
    gateway = spawn("run", "--config", str(config))
    truth = load_scenario(QUICK).truth()
    expected = len(truth) * 2  # arrived + departed per tag

    def docs() -> list[dict[str, Any]]:
        return [json.loads(p) for p in sub.on_topic("dockgate/gw-test/epcis/dock-3")]

    try:
        wait_until(lambda: len(sub.events()) >= expected and len(docs()) >= expected, 40, "events and EPCIS documents")
    finally:
        code, log = stop(gateway)
        stop(sim)
    assert code == 0, log
    events, documents = sub.events(), docs()
    assert len(events) == len(documents) == expected
    seqs = [e["seq"] for e in sub.events(everything=True)]  # a report at the top of the hour takes a seq too
    assert seqs == list(range(1, len(seqs) + 1))  # EPCIS took no seq
    for doc in documents:
        check_epcis(doc)
    # one document per event, named after it, in the same order, with the event's identity and time
    assert [d["id"] for d in documents] == [f"urn:uuid:{e['id']}" for e in events]
    for event, doc in zip(events, documents, strict=True):
        [ev] = doc["epcisBody"]["eventList"]
        assert ev["epcList"] == [event["uri"] or raw_uri(event["epc"])]
        assert ev["eventTime"] == event["time"]
    ids = [d["epcisBody"]["eventList"][0]["eventID"] for d in documents]
    assert len(set(ids)) == len(ids)


def test_an_item_of_a_shipment_carries_its_business_transaction() -> None:
    config = parse_config(CONFIG)
    transactions = {"S-1": "urn:epcglobal:cbv:bt:0614141000005:ASN-7"}
    renderer = EpcisRenderer(config, Topics(config.mqtt, "gw-test"), lambda: T0, transactions.get)
    item = make_event("departed", direction="out", direction_confidence=0.9)
    item.extra["shipment"] = "S-1"
    doc = renderer.document_for(item)
    assert doc is not None
    check_epcis(doc)
    (event,) = doc["epcisBody"]["eventList"]
    assert event["bizTransactionList"] == [
        {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:ASN-7"}
    ]
    plain = renderer.document_for(make_event("departed", direction="out", direction_confidence=0.9))
    assert plain is not None
    (other,) = plain["epcisBody"]["eventList"]
    assert "bizTransactionList" not in other
    assert other["eventID"] != event["eventID"]  # the transaction is part of the event's hash
