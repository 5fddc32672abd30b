"""What is present now: the main loop's present lists against the pipeline's presence, the retained MQTT
snapshot against docs/present.schema.json, a very large stock bounded with ``truncated``, owners on it,
and the owners' event topics. An in-process gateway and a real mosquitto; reads enter where a driver
hands them over (``ReadIngress.hand_over``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from gateway.app import Gateway
from gateway.config import parse_config
from gateway.domain.model import TagRead
from simulators.llrp.epc import sscc96
from tests.conftest import Broker, Subscriber, turn_until, wait_until
from tests.tlsutil import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMA = json.loads((DOCS / "present.schema.json").read_text())
ACME, GLOBEX = "0614141", "0614142"


def _config(tmp: Path, broker: Broker, **present: Any) -> Any:
    data: dict[str, Any] = {
        "gateway": {"id": "gw-present"},
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "owner_topics": True, "max_inflight": 1000},
        "readers": [{"name": "portal-3", "type": "llrp", "host": "127.0.0.1", "port": free_port(), "antennas": [1, 2]}],
        "locations": [{"name": "dock-3", "read_points": [{"reader": "portal-3"}]}],
        "pipeline": {"arrive_min_reads": 2, "depart_after": "60s", "static_after": "1h"},
        "outbox": {"path": str(tmp / "outbox.db")},
        "metrics": {"listen": "off"},
        "owners": [{"name": "acme", "company_prefixes": [ACME]}, {"name": "globex", "company_prefixes": [GLOBEX]}],
        "present": {"snapshot_every": "200ms", **present},
    }
    return parse_config(json.dumps(data), "test config")


def _tags(count: int) -> list[str]:
    """Half acme's, half globex's, and one in 50 of no known owner."""
    out = []
    for i in range(count):
        prefix = ACME if i % 2 else GLOBEX
        out.append(sscc96(prefix, f"{1_000_000_000 + i}") if i % 50 else f"E2801160600002{i:010X}")
    return out


def _arrive(gateway: Gateway, epcs: list[str], batch: int = 2000) -> None:
    now = time.time()
    for start in range(0, len(epcs), batch):
        chunk = epcs[start : start + batch]
        gateway.ingress.hand_over([TagRead("portal-3", 1 + i % 2, epc, -50.0, now) for i, epc in enumerate(chunk)])
        gateway.ingress.hand_over([TagRead("portal-3", 1, epc, -52.0, now + 0.05) for epc in chunk])
        gateway.step(0)


def _retained(broker: Broker, topic: str, predicate: Any) -> dict[str, Any]:
    """The latest message on ``topic`` that satisfies ``predicate`` (a fresh subscriber gets the retained one)."""
    sub = Subscriber(broker, topic)
    try:
        wait_until(lambda: any(predicate(json.loads(p)) for p in sub.on_topic(topic)), 20, f"a message on {topic}")
        return [json.loads(p) for p in sub.on_topic(topic) if predicate(json.loads(p))][-1]  # type: ignore[no-any-return]
    finally:
        sub.close()


def test_present_list_equals_the_pipelines_presence_with_10000_tags(tmp_path: Path, mosquitto: Broker) -> None:
    gateway = Gateway(_config(tmp_path, mosquitto))
    epcs = _tags(10_000)
    try:
        gateway.start()
        turn_until(gateway, lambda: gateway.publisher.connected, 10, "the broker connection")
        _arrive(gateway, epcs)
        presence = gateway.pipeline.presence
        turn_until(gateway, lambda: presence.present_count == 10_000, 20, "10,000 arrivals")
        time.sleep(0.25)  # past snapshot_every: the next turn lists the location again
        gateway.step(0)
        listed = gateway.snapshot.present["dock-3"]
        rows = {row.epc: row for row in presence.snapshot(1_000_000) if row.location == "dock-3"}  # the same instant
        assert listed.count == len(rows) == 10_000 and listed.truncated == 0
        assert {t.epc for t in listed.tags} == set(rows)
        for tag in listed.tags:
            row = rows[tag.epc]
            assert (tag.since, tag.last_seen, tag.reads) == (row.first_seen, row.last_seen, row.reads)
            assert tag.antennas == ((1,) if row.antennas == 0b10 else (1, 2))
        owners = {t.epc: t.owner for t in listed.tags}
        assert owners[epcs[1]] == "acme" and owners[epcs[2]] == "globex" and owners[epcs[0]] == "unassigned"
        assert dict(listed.owners) == {"acme": 5000, "globex": 4800, "unassigned": 200}  # i % 50 == 0 are even
        assert [t.since for t in listed.tags] == sorted((t.since for t in listed.tags), reverse=True)

        topic = "dockgate/gw-present/locations/dock-3/present"
        payload = _retained(mosquitto, topic, lambda doc: doc["count"] == 10_000)
        jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(payload)
        assert payload == json.loads(json.dumps(listed.to_json("gw-present")))
        assert {t["epc"] for t in payload["tags"]} == set(rows)
    finally:
        gateway.shutdown(flush_timeout=0.5)


def test_a_100000_tag_location_is_bounded_and_says_how_many_are_left_out(tmp_path: Path, mosquitto: Broker) -> None:
    gateway = Gateway(_config(tmp_path, mosquitto, max_tags=2000))
    epcs = _tags(100_000)
    try:
        gateway.start()
        turn_until(gateway, lambda: gateway.publisher.connected, 10, "the broker connection")
        _arrive(gateway, epcs[:50_000])
        time.sleep(0.01)
        _arrive(gateway, epcs[50_000:])  # arrive later: the most recently arrived are listed first
        presence = gateway.pipeline.presence
        turn_until(gateway, lambda: presence.present_count == 100_000, 60, "100,000 arrivals")
        time.sleep(0.25)
        gateway.step(0)
        listed = gateway.snapshot.present["dock-3"]
        assert (len(listed.tags), listed.truncated, listed.count) == (2000, 98_000, 100_000)
        assert sum(listed.owners.values()) == 100_000
        arrivals = sorted((row.first_seen for row in presence.snapshot(1_000_000)), reverse=True)
        assert [t.since for t in listed.tags] == arrivals[:2000]  # the 2,000 most recently arrived, newest first
        assert {t.epc for t in listed.tags} <= set(epcs[50_000:])

        topic = "dockgate/gw-present/locations/dock-3/present"
        sub = Subscriber(mosquitto, topic)
        try:
            wait_until(lambda: any(b'"count":100000' in p for p in sub.on_topic(topic)), 20, "the bounded list")
            raw = [p for p in sub.on_topic(topic) if b'"count":100000' in p][-1]
        finally:
            sub.close()
        doc = json.loads(raw)
        jsonschema.Draft202012Validator(SCHEMA).validate(doc)
        assert (len(doc["tags"]), doc["truncated"], doc["count"]) == (2000, 98_000, 100_000)
        assert len(raw) < 2000 * 400, f"{len(raw)} bytes for 2,000 tags"  # bounded by max_tags, not by the stock
        print(f"\n100,000 tags present, 2,000 listed: {len(raw):,} bytes")
    finally:
        gateway.shutdown(flush_timeout=0.5)


def test_owner_topics_carry_each_owners_events_only(tmp_path: Path, mosquitto: Broker) -> None:
    acme = Subscriber(mosquitto, "dockgate/gw-present/owners/acme/#")
    globex = Subscriber(mosquitto, "dockgate/gw-present/owners/globex/#")
    everything = Subscriber(mosquitto, "dockgate/gw-present/events/#")
    gateway = Gateway(_config(tmp_path, mosquitto))
    epcs = _tags(40)
    try:
        gateway.start()
        turn_until(gateway, lambda: gateway.publisher.connected, 10, "the broker connection")
        _arrive(gateway, epcs)
        turn_until(gateway, lambda: len(everything.events()) >= 40, 10, "40 arrivals")
        turn_until(gateway, lambda: len(acme.messages) >= 20 and len(globex.messages) >= 19, 10, "owner topics")
    finally:
        gateway.shutdown(flush_timeout=0.5)
        for sub in (acme, globex, everything):
            sub.close()
    by_owner = {e["epc"]: e["owner"] for e in everything.events()}
    assert by_owner[epcs[0]] == "unassigned" and by_owner[epcs[1]] == "acme" and by_owner[epcs[2]] == "globex"
    for sub, owner in ((acme, "acme"), (globex, "globex")):
        got = [json.loads(m.payload) for m in sub.messages]
        assert {e["epc"] for e in got} == {epc for epc, o in by_owner.items() if o == owner}
        assert all(m.topic == f"dockgate/gw-present/owners/{owner}/events/dock-3" for m in sub.messages)


def test_the_present_schema_is_the_openapi_one() -> None:
    openapi = yaml.safe_load((DOCS / "openapi.yaml").read_text())["components"]["schemas"]["PresentList"]
    assert {k: v for k, v in SCHEMA.items() if not k.startswith("$") and k not in ("title", "description")} == openapi
