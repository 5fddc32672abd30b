"""The owners' ACL of docs/security.md, as written, on a real mosquitto: a gateway with
``mqtt.owner_topics`` publishes as its own user, and each owner's user, subscribed to everything,
receives its own owner topics and nothing else."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.app import Gateway
from gateway.config import parse_config
from gateway.domain.model import TagRead
from simulators.llrp.epc import sscc96
from tests.conftest import Broker, wait_until
from tests.tlsutil import Listener, free_port, mosquitto_config, start_broker, write_password_file

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

SECURITY = Path(__file__).resolve().parents[2] / "docs" / "security.md"
USERS = {"gw-owners": "gw-secret-1", "acme": "acme-secret-2", "globex": "globex-secret-3", "backoffice": "bo-secret-4"}


def _documented_acl() -> str:
    blocks = re.findall(r"```[^\n]*\n(# /etc/mosquitto/acl \(owners\)\n.*?)```", SECURITY.read_text(), re.S)
    assert len(blocks) == 1, "docs/security.md: the owners' ACL block"
    return str(blocks[0])


class Reader:
    """One user's subscription to dockgate/#: what the broker lets through."""

    def __init__(self, port: int, user: str) -> None:
        self.topics: list[str] = []
        self.payloads: list[dict[str, Any]] = []
        self.main: list[dict[str, Any]] = []  # events on the gateway's own event topic
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.username_pw_set(user, USERS[user])
        self.client.on_connect = lambda c, *_: c.subscribe("dockgate/#", qos=1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10), f"{user} did not subscribe"

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.topics.append(message.topic)
            if "/events/" in message.topic:
                self.payloads.append(json.loads(message.payload))
            if message.topic.startswith("dockgate/gw-owners/events/"):
                self.main.append(json.loads(message.payload))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_each_owner_reads_only_its_own_goods(tmp_path: Path) -> None:
    acl = tmp_path / "acl"
    acl.write_text(_documented_acl())
    port = free_port()
    passwd = write_password_file(tmp_path / "passwd", USERS)
    broker: Broker = start_broker(mosquitto_config(tmp_path, [Listener(port)], passwd, acl), port)
    secret = tmp_path / "mqtt-password"
    secret.write_text(USERS["gw-owners"])
    secret.chmod(0o600)
    config = parse_config(
        json.dumps(
            {
                "gateway": {"id": "gw-owners"},
                "mqtt": {
                    "host": "127.0.0.1",
                    "port": port,
                    "username": "gw-owners",
                    "password_file": str(secret),
                    "owner_topics": True,
                },
                "readers": [{"name": "portal", "type": "llrp", "host": "127.0.0.1", "port": free_port()}],
                "locations": [{"name": "dock-1", "read_points": [{"reader": "portal"}]}],
                "outbox": {"path": str(tmp_path / "outbox.db")},
                "metrics": {"listen": "off"},
                "owners": [
                    {"name": "acme", "company_prefixes": ["0614141"]},
                    {"name": "globex", "company_prefixes": ["0614142"]},
                ],
            }
        ),
        "test config",
    )
    readers = {user: Reader(port, user) for user in ("acme", "globex", "backoffice")}
    tags = {"acme": [sscc96("0614141", f"{10**9 + i}") for i in range(5)]}
    tags["globex"] = [sscc96("0614142", f"{10**9 + i}") for i in range(4)]
    tags["unassigned"] = [sscc96("0614143", f"{10**9 + i}") for i in range(3)]
    every = [epc for epcs in tags.values() for epc in epcs]
    gateway = Gateway(config)
    try:
        gateway.start()
        deadline = time.monotonic() + 10
        while not gateway.publisher.connected and time.monotonic() < deadline:
            gateway.step(0.02)
        now = time.time()
        gateway.ingress.hand_over([TagRead("portal", 1, epc, -50.0, now) for epc in every])
        gateway.ingress.hand_over([TagRead("portal", 1, epc, -50.0, now + 0.05) for epc in every])

        def delivered() -> bool:
            gateway.step(0.02)
            return gateway.outbox.pending_count() == 0 and len(readers["backoffice"].payloads) >= 2 * len(every)

        wait_until(delivered, 20, "every event acknowledged and the back office's copies")
        time.sleep(0.3)  # anything the broker would still (wrongly) deliver to an owner
    finally:
        gateway.shutdown(flush_timeout=1.0)
        for reader in readers.values():
            reader.close()
        broker.stop()
    for owner in ("acme", "globex"):
        got = readers[owner]
        assert got.topics and all(t == f"dockgate/gw-owners/owners/{owner}/events/dock-1" for t in got.topics)
        assert sorted(e["epc"] for e in got.payloads) == sorted(tags[owner])
    office = readers["backoffice"]
    assert sorted(e["epc"] for e in office.main) == sorted(every)  # the back office reads every event
    assert {t for t in office.topics if "/owners/" in t} >= {
        "dockgate/gw-owners/owners/acme/events/dock-1",
        "dockgate/gw-owners/owners/unassigned/events/dock-1",
    }
