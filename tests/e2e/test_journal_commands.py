"""Accepted commands are journal entries (issue 16): a shipment posted, acknowledged, cancelled and closed,
and a config reload, each an event of type ``command`` stored with what it changed, in the one chain,
published, and verified with the events by ``dockgate journal verify``. Refused commands leave no entry.
An in-process gateway on a real mosquitto and a real SQLite outbox."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gateway.app import Gateway
from gateway.config import parse_config
from gateway.domain.model import TagRead
from gateway.shipments.commands import Command, Reply
from gateway.shipments.order import ShipmentOrder
from tests.conftest import Broker, Subscriber, turn_until, wait_until
from tests.e2e.test_e2e import free_port, spawn

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

EPC = "3074257BF7194E4000001A85"
_READER = free_port()  # nobody listens: the reader only reconnects


def _config(tmp: Path, broker: Broker, depart_after: str = "60s") -> Any:
    reader = _READER
    data = {
        "gateway": {"id": "gw-cmd"},
        "mqtt": {"host": "127.0.0.1", "port": broker.port},
        "readers": [{"name": "portal-3", "type": "llrp", "host": "127.0.0.1", "port": reader}],
        "locations": [{"name": "dock-3", "read_points": [{"reader": "portal-3"}]}],
        "pipeline": {"arrive_min_reads": 1, "depart_after": depart_after},
        "outbox": {"path": str(tmp / "outbox.db")},
        "metrics": {"listen": "off"},
        "journal": {"checkpoint_entries": 5, "checkpoint_every": "200ms"},
    }
    path = tmp / "gateway.yaml"
    path.write_text(json.dumps(data))
    return parse_config(json.dumps(data), "test config")


def _send(gateway: Gateway, command: Command) -> Reply:
    replies: list[Reply] = []
    gateway.commands.submit_async(command, replies.append)
    turn_until(gateway, lambda: bool(replies), 5, f"the reply to {command.action}")
    return replies[0]


def _order(sid: str) -> ShipmentOrder:
    return ShipmentOrder.model_validate({"id": sid, "location": "dock-3", "direction": "out", "items": [EPC]})


def test_accepted_commands_are_journaled_published_and_verify(tmp_path: Path, mosquitto: Broker) -> None:
    sub = Subscriber(mosquitto, "dockgate/gw-cmd/#")
    gateway = Gateway(_config(tmp_path, mosquitto))
    try:
        gateway.start()
        turn_until(gateway, lambda: gateway.publisher.connected, 10, "the broker connection")
        assert _send(gateway, Command("post", "S1", _order("S1"), "http", "ops-token")).accepted
        assert not _send(gateway, Command("post", "S1", _order("S1"), "http", "ops-token")).accepted  # a duplicate
        assert _send(gateway, Command("cancel", "S1", None, "mqtt", "")).accepted
        assert not _send(gateway, Command("close", "S1", None, "mqtt", "")).accepted  # cancelled already
        assert _send(gateway, Command("post", "S2", _order("S2"), "mqtt", "")).accepted
        gateway.ingress.hand_over([TagRead("portal-3", 1, EPC, -50.0, gateway.clock())])
        turn_until(gateway, lambda: gateway.events_stored[("arrived", "dock-3")] == 1, 5, "the arrival")
        assert _send(gateway, Command("close", "S2", None, "http", "ops-token")).accepted
        gateway.apply_config(_config(tmp_path, mosquitto, depart_after="30s"))  # what SIGHUP does
        turn_until(gateway, lambda: gateway.events_stored[("command", "")] == 1, 5, "the reload journaled")
        turn_until(
            gateway, lambda: not gateway.dispatcher.in_flight and gateway.outbox.pending_count() == 0, 10, "sent"
        )
        wait_until(lambda: len(sub.events(everything=True)) >= 7, 10, "every event at the subscriber")
    finally:
        gateway.shutdown()
        sub.close()
    events = sub.events(everything=True)
    commands = [(e["command"], e["source"], e["by"], e.get("shipment")) for e in events if e["type"] == "command"]
    assert commands == [
        ("shipment_post", "http", "ops-token", "S1"),
        ("shipment_cancel", "mqtt", None, "S1"),
        ("shipment_post", "mqtt", None, "S2"),
        ("shipment_close", "http", "ops-token", "S2"),
        ("config_reload", "signal", None, None),
    ]
    assert [e["type"] for e in events] == [*["command"] * 3, "arrived", "command", "shipment_verified", "command"]
    assert [e["seq"] for e in events] == list(range(1, 8))  # one chain: commands and events share the seqs
    posted = next(e for e in events if e["type"] == "command")
    assert posted["order"]["items"] == [EPC] and posted["location"] == "dock-3"
    reload = events[-1]
    assert reload["location"] is None and len(reload["config_sha256"]) == 64 and reload["readers_restarted"] == []
    topics = [m.topic for m in sub.messages if "/events/" in m.topic]
    assert topics[-1] == "dockgate/gw-cmd/events/_gateway" and topics[0] == "dockgate/gw-cmd/events/dock-3"
    assert [e["type"] for e in sub.events()] == ["arrived", "shipment_verified"]  # about the goods only
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        journal = {int(s): bytes(h).hex() for s, h in db.execute("SELECT seq, hash FROM journal")}
    assert journal == {e["seq"]: e["hash"] for e in events}
    capture = tmp_path / "capture.txt"
    capture.write_text("".join(f"{m.topic} {m.payload.decode()}\n" for m in sub.messages if m.payload[:1] == b"{"))
    for args in (
        ["--config", str(tmp_path / "gateway.yaml")],
        ["--config", str(tmp_path / "gateway.yaml"), "--events", str(capture)],
    ):
        process = spawn("journal", "verify", *args)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0 and "OK:" in out, out + err
