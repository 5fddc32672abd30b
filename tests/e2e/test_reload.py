"""A live reload must leave the gateway behaving as a fresh start with the new file would.

For each config section, one gateway starts with the old file, sees a pallet, and reloads the new file
(``Gateway.apply_config``, what SIGHUP does); another starts fresh with the new file. Both then see the
same pallet and the same scan, through a real mosquitto; what reaches the broker afterwards (topics,
event fields, EPCIS documents, reader status topics) must be the same. Reads enter where a driver hands
them over (``ReadIngress.hand_over``); the configured readers' drivers run for real (an LLRP reader on
a port nobody listens on, a serial scanner on ``loop://``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest

from gateway.app import Gateway
from gateway.config import parse_config
from gateway.domain.model import ScanRead, TagRead
from simulators.llrp.epc import sscc96
from tests.conftest import Broker, Subscriber, free_port, start_mosquitto, turn_until

BASE: dict[str, Any] = {
    "gateway": {"id": "gw-reload"},
    "mqtt": {"host": "127.0.0.1", "port": 0, "topic_prefix": "dockgate", "reconnect_delay_max": "1s"},
    "readers": [
        {"name": "portal-3", "type": "llrp", "host": "127.0.0.1", "port": 0, "antennas": [1, 2]},
        {"name": "scanner-3", "type": "serial", "port": "loop://"},
    ],
    "locations": [{"name": "dock-3", "read_points": [{"reader": "portal-3"}, {"reader": "scanner-3"}]}],
    "pipeline": {"arrive_min_reads": 2, "arrive_window": "1s", "depart_after": "5s", "match_window": "5s"},
    "metrics": {"listen": "off"},
}
BEFORE_TAG = sscc96("0614141", "1000000001")
PALLET = sscc96("0614141", "1234567890")
LABEL = "]C100106141412345678908"  # the pallet's SSCC label: urn:epc:id:sscc:0614141.1234567890


def _config(tmp: Path, broker: Broker, changes: dict[str, Any]) -> Any:
    data = json.loads(json.dumps(BASE))
    data["mqtt"]["port"] = broker.port
    data["outbox"] = {"path": str(tmp / "outbox.db")}
    for path, value in changes.items():
        where = data
        *parents, last = path.split(".")
        for key in parents:
            where = where.setdefault(key, {})
        where[last] = json.loads(json.dumps(value))
    for reader in data["readers"]:
        if reader.get("port") == 0:
            reader["port"] = _dead_port
    return parse_config(json.dumps(data), "test config")


_dead_port = free_port()  # an LLRP reader that is not there: its driver keeps trying, as in the field


def _pallet_passes(gateway: Gateway, epc: str, scan: bool) -> None:
    now = time.time()
    gateway.ingress.hand_over([TagRead("portal-3", 1, epc, -50.0, now), TagRead("portal-3", 2, epc, -52.0, now + 0.1)])
    if scan:
        gateway.ingress.hand_over([ScanRead("scanner-3", 0, "", None, now + 0.2, text=LABEL)])


def _observe(tmp: Path, changes: dict[str, Any], reload: bool) -> dict[str, Any]:
    """What the broker sees of the pallet and the scan, from a gateway started with the base file and
    reloaded with ``changes`` (or started fresh with them)."""
    tmp.mkdir()
    broker = start_mosquitto(tmp)
    sub = Subscriber(broker, "#")
    gateway = Gateway(_config(tmp, broker, {} if reload else changes))
    try:
        gateway.start()
        turn_until(gateway, lambda: gateway.publisher.connected, 10, "the broker connection")
        if reload:
            _pallet_passes(gateway, BEFORE_TAG, scan=False)
            turn_until(gateway, lambda: any(BEFORE_TAG.encode() in p for p in sub.payloads()), 10, "the first pallet")
            gateway.apply_config(_config(tmp, broker, changes))
            turn_until(gateway, lambda: gateway.publisher.connected, 10, "the broker connection after reload")
        seen_before = len(sub.messages)
        _pallet_passes(gateway, PALLET, scan=True)

        def arrived() -> bool:
            return sum(PALLET.encode() in m.payload for m in sub.messages[seen_before:]) >= 2  # arrival + scan

        turn_until(gateway, arrived, 10, "the pallet's arrival and its scan")
        settle = time.monotonic() + 1.0  # EPCIS documents and statuses that follow
        turn_until(gateway, lambda: time.monotonic() > settle, 5, "the messages after it")
    finally:
        gateway.shutdown(flush_timeout=1.0)
        sub.close()
        broker.stop()
    prefix = gateway.config.mqtt.topic_prefix + "/"
    summary = _summary(sub.messages[seen_before:])
    summary["reader_status_topics"] = sorted(
        {m.topic for m in sub.messages if "/readers/" in m.topic and m.topic.startswith(prefix)}
    )
    return summary


def _summary(messages: list[paho.MQTTMessage]) -> dict[str, Any]:
    events, documents = [], []
    for message in messages:
        topic = message.topic
        if topic.endswith("/status"):  # the gateway's availability and reader statuses: below
            continue
        body = json.loads(message.payload)
        if body.get("type") == "EPCISDocument":
            for event in body["epcisBody"]["eventList"]:
                documents.append((topic, event["type"], tuple(event.get("epcList", ())), event.get("bizStep")))
        elif body.get("epc") == PALLET or body.get("type") == "scanned":
            barcode = body.get("barcode") or {}
            events.append((topic, body["type"], body["epc"], body["uri"], body.get("matched_epc"), barcode.get("uri")))
    return {"events": sorted(events), "epcis": sorted(documents)}


CASES = {
    # reload bug 1: events and reader status stayed on the old prefix
    "mqtt.topic_prefix": {"mqtt.topic_prefix": "site-7"},
    # reload bug 2: the EPCIS renderer was built once
    "mqtt.epcis": {"mqtt.epcis": True},
    "pipeline": {"pipeline.depart_after": "4s"},
    # reload bug 3: the pipeline is rebuilt and dock-3's presence starts anew (its settings changed), and
    # barcode fusion still asked the old presence tracker: the scan found no tag
    "location changed": {
        "locations": [{**BASE["locations"][0], "filters": {"exclude": ["FFFFFFFF"]}}],
    },
    "mqtt.topics": {"mqtt.topics": {"events": "{prefix}/{gateway}/{type}/{location}"}},
    "readers": {"readers": [*BASE["readers"], {"name": "portal-9", "type": "llrp", "host": "127.0.0.1", "port": 1}]},
    "locations": {
        "readers": [*BASE["readers"], {"name": "scanner-9", "type": "serial", "port": "loop://"}],
        "locations": [*BASE["locations"], {"name": "desk", "read_points": [{"reader": "scanner-9"}]}],
    },
    "gs1": {"gs1": {"company_prefix_lengths": {"0614141": 7}, "default_company_prefix_length": 9}},
}


@pytest.mark.parametrize("section", sorted(CASES))
def test_reload_behaves_as_a_fresh_start(tmp_path: Path, section: str) -> None:
    changes = CASES[section]
    reloaded = _observe(tmp_path / "reloaded", changes, reload=True)
    fresh = _observe(tmp_path / "fresh", changes, reload=False)
    assert reloaded == fresh
    events = reloaded["events"]
    assert any(kind == "arrived" for _, kind, *_ in events), events
    scanned = [e for e in events if e[1] == "scanned"]
    assert scanned and scanned[0][4] == PALLET, f"the scan is fused with the pallet's tag: {scanned}"
    if section == "mqtt.topic_prefix":
        assert all(topic.startswith("site-7/") for topic, *_ in events), events
        assert reloaded["reader_status_topics"] == [
            "site-7/gw-reload/readers/portal-3/status",
            "site-7/gw-reload/readers/scanner-3/status",
        ]
    if section == "mqtt.epcis":
        assert any(topic == "dockgate/gw-reload/epcis/dock-3" for topic, *_ in reloaded["epcis"]), reloaded["epcis"]
