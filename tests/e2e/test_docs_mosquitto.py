"""A real mosquitto starts with the configuration files the docs give, as written, with only their paths,
ports and host names rewritten to this test's temp folder and free ports (issue 20, defect 1).

What is rewritten: ``/etc/mosquitto/...`` and ``/var/lib/mosquitto/`` paths (to files made here: a password
file by ``mosquitto_passwd``, the ACL block of the same doc, certificates from tests/tlsutil.make_pki), the
listener and bridge address (to free ports on 127.0.0.1), and a ``user`` line is added (started as root,
mosquitto would drop to user "mosquitto", who cannot read pytest's private temp folders). The bridge's file
is a conf.d file: the edge broker's listener, which the main mosquitto.conf would give, is added too.
Each ACL file of the docs is started as written, and every user it names is tried for what it may write
and read.
"""

from __future__ import annotations

import getpass
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import Broker, free_port, wait_until
from tests.docblocks import Block, mosquitto_block, tagged_blocks
from tests.docnames import topic_matches
from tests.tlsutil import Listener, Pki, make_pki, mosquitto_config, start_broker, write_password_file

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki", client_cn="edge-site-7")


def rewrite(text: str, paths: dict[str, Path], lines: dict[str, str]) -> str:
    """``text`` with each path of ``paths`` replaced and each line starting with a key of ``lines`` replaced
    by its value; every /etc/mosquitto path must have been replaced."""
    out = []
    for line in text.splitlines():
        key = line.split(" ", 1)[0]
        line = lines.get(key, line)
        for old, new in paths.items():
            line = line.replace(old, str(new))
        out.append(line)
    written = "\n".join(out) + f"\nuser {getpass.getuser()}\nlog_dest stderr\nlog_type all\n"
    body = "\n".join(x for x in written.splitlines() if not x.startswith("#"))
    assert "/etc/mosquitto" not in body and "/var/lib/mosquitto" not in body, body
    return written


def stays_up(broker: Broker, log: Path, seconds: float = 1.0) -> None:
    time.sleep(seconds)
    assert broker.process.poll() is None, f"mosquitto exited {broker.process.returncode}:\n{log.read_text()}"


def test_the_broker_configuration_of_security_md_starts_a_broker_that_applies_its_acl(tmp_path: Path, pki: Pki) -> None:
    conf_block = mosquitto_block("security.md", "/etc/mosquitto/conf.d/dockgate.conf")
    acl_block = mosquitto_block("security.md", "/etc/mosquitto/acl")
    acl = tmp_path / "acl"
    acl.write_text(acl_block.text)
    passwd = write_password_file(tmp_path / "passwd", {"gw-dock-3": "pw-gw", "backoffice": "pw-bo"})
    port = free_port()
    conf = tmp_path / "dockgate.conf"
    conf.write_text(
        rewrite(
            conf_block.text,
            {
                "/etc/mosquitto/tls/ca.crt": pki.ca.cert,
                "/etc/mosquitto/tls/broker.crt": pki.server.cert,
                "/etc/mosquitto/tls/broker.key": pki.server.key,
                "/etc/mosquitto/passwd": passwd,
                "/etc/mosquitto/acl": acl,
            },
            {"listener": f"listener {port} 127.0.0.1"},
        )
    )
    log = tmp_path / "mosquitto.log"
    broker = start_broker(conf, port, log)
    try:
        stays_up(broker, log)
        # the doc's claims, cheaply: a client certificate and a password are both needed; gw-dock-3 may
        # write under dockgate/gw-dock-3/ only
        allowed, denied = publish(
            port, pki, "gw-dock-3", "pw-gw", ["dockgate/gw-dock-3/status", "dockgate/gw-x/status"]
        )
        # success (0, or 0x10 no matching subscribers); 0x87 Not authorized
        assert allowed[0] < 0x80 and denied == [0x87], (allowed, denied)
    finally:
        broker.stop()
    assert "Denied PUBLISH from" in log.read_text()


def publish(port: int, pki: Pki, user: str, password: str, topics: list[str]) -> tuple[list[int], list[int]]:
    """PUBACK reason codes of one QoS 1 publish on each of ``topics`` (MQTT 5, TLS with a client certificate):
    (of the first topic, of the others)."""
    codes: dict[int, int] = {}
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"doc-{user}", protocol=paho.MQTTv5)
    client.username_pw_set(user, password)
    client.tls_set(ca_certs=str(pki.ca.cert), certfile=str(pki.client.cert), keyfile=str(pki.client.key))
    client.on_publish = lambda _c, _u, mid, reason, _p: codes.__setitem__(mid, reason.value)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        mids = [client.publish(topic, b"x", qos=1).mid for topic in topics]
        wait_until(lambda: all(m in codes for m in mids), 10, "PUBACKs")
    finally:
        client.disconnect()
        client.loop_stop()
    return [codes[mids[0]]], [codes[m] for m in mids[1:]]


def test_the_bridge_configuration_of_fleet_md_starts_and_forwards_under_its_client_id(tmp_path: Path, pki: Pki) -> None:
    central_port, edge_port = free_port(), free_port()
    central_dir = tmp_path / "central"
    central_dir.mkdir()
    central_conf = mosquitto_config(
        central_dir, [Listener(central_port, tls=(pki.ca.cert, pki.server), require_certificate=True)]
    )
    central_log = central_dir / "mosquitto.log"
    central = start_broker(central_conf, central_port, central_log)
    block = mosquitto_block("fleet.md", "/etc/mosquitto/conf.d/bridge.conf")
    persistence = tmp_path / "persistence"
    persistence.mkdir()
    conf = tmp_path / "bridge.conf"
    conf.write_text(
        # bridge.conf is a conf.d file: the listener and who may connect come from the main mosquitto.conf
        f"listener {edge_port} 127.0.0.1\nallow_anonymous true\n"
        + rewrite(
            block.text,
            {
                "/var/lib/mosquitto/": f"{persistence}/",
                "/etc/mosquitto/tls/central-ca.crt": pki.ca.cert,
                "/etc/mosquitto/tls/edge-site-7.crt": pki.client.cert,
                "/etc/mosquitto/tls/edge-site-7.key": pki.client.key,
            },
            # bridge_insecure false: the host name is checked, and the test server certificate names 127.0.0.1
            {"address": f"address 127.0.0.1:{central_port}"},
        )
    )
    edge_log = tmp_path / "edge.log"
    edge = start_broker(conf, edge_port, edge_log)
    try:
        stays_up(edge, edge_log)
        wait_until(
            lambda: re.search(r"New client connected from \S+ as edge-site-7 \(", central_log.read_text()) is not None,
            10,
            f"the bridge on the central broker as edge-site-7:\n{central_log.read_text()}",
        )
        received: list[str] = []
        subscribed = threading.Event()
        consumer = paho.Client(CallbackAPIVersion.VERSION2, client_id="doc-consumer", protocol=paho.MQTTv5)
        consumer.tls_set(ca_certs=str(pki.ca.cert), certfile=str(pki.consumer.cert), keyfile=str(pki.consumer.key))
        consumer.on_message = lambda _c, _u, message: received.append(message.topic)
        consumer.on_connect = lambda c, *_: c.subscribe("dockgate/#", qos=1)
        consumer.on_subscribe = lambda *_: subscribed.set()
        consumer.connect("127.0.0.1", central_port)
        consumer.loop_start()
        gateway = paho.Client(CallbackAPIVersion.VERSION2, client_id="doc-gateway", protocol=paho.MQTTv5)
        gateway.connect("127.0.0.1", edge_port)
        gateway.loop_start()
        try:
            # "topic dockgate/# out 1": what a gateway publishes on the edge broker reaches the central one
            wait_until(lambda: subscribed.is_set() and gateway.is_connected(), 10, "both clients connected")
            gateway.publish("dockgate/gw-dock-3/events/dock-3", b"{}", qos=1)
            wait_until(lambda: "dockgate/gw-dock-3/events/dock-3" in received, 10, "an event forwarded by the bridge")
        finally:
            for client in (gateway, consumer):
                client.disconnect()
                client.loop_stop()
    finally:
        edge.stop()
        central.stop()


def test_every_mosquitto_configuration_of_the_docs_is_started_by_a_test_here() -> None:
    """A new ``conf mosquitto`` block needs a test above that starts a broker with it (its paths and claims
    are its own); each ACL block is started by the test below, whatever it holds."""
    started = {
        ("security.md", "/etc/mosquitto/conf.d/dockgate.conf"),
        ("fleet.md", "/etc/mosquitto/conf.d/bridge.conf"),
    }
    assert {(b.doc.name, b.mosquitto_file) for b in tagged_blocks("conf mosquitto")} == started


@dataclass(frozen=True)
class Rule:
    access: str  # read, write or readwrite
    topic: str  # with %u (a pattern) or %c as mosquitto has them

    def allows(self, user: str, access: str, topic: str) -> bool:
        return access in self.access and topic_matches(self.topic.replace("%u", user), topic)


def acl_rules(text: str) -> dict[str | None, list[Rule]]:
    """The rules of an ACL file by user; None: the ``pattern`` rules, which apply to every user."""
    rules: dict[str | None, list[Rule]] = {None: []}
    user: str | None = None
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user":
            user = words[1]
            rules.setdefault(user, [])
        elif words[0] in ("topic", "pattern"):
            access, topic = (words[1], words[2]) if len(words) == 3 else ("readwrite", words[1])
            rules[None if words[0] == "pattern" else user].append(Rule(access, topic))
    return rules


def probe(topic: str, gateway: str) -> str:
    """A topic a filter of the ACL matches: ``%u`` and the gateway's level are ``gateway``, ``+`` a door."""
    levels = topic.replace("%u", gateway).split("/")
    return "/".join(
        gateway if i == 1 and lv == "+" else "dock-3" if lv == "+" else "x" if lv == "#" else lv
        for i, lv in enumerate(levels)
    )


@pytest.mark.parametrize("block", tagged_blocks("conf mosquitto-acl"), ids=lambda b: b.where)
def test_each_acl_of_the_docs_lets_each_user_write_and_read_what_it_says_and_nothing_else(
    tmp_path: Path, block: Block
) -> None:
    """The ACL as written, on a real mosquitto: every user (its ``user`` sections, and gw-dock-3 for the
    ``pattern`` rules; another gateway, gw-other, besides) publishes on a topic of every rule and on the
    gateway's event and status topics; each gets a PUBACK refusal exactly where the ACL gives it no write,
    and each, subscribed to ``dockgate/#``, receives exactly the messages it may read."""
    rules = acl_rules(block.text)
    users = ["gw-dock-3", "gw-other", *(u for u in rules if u is not None)]
    topics = sorted(
        {probe(r.topic, "gw-dock-3") for rs in rules.values() for r in rs}
        | {"dockgate/gw-dock-3/events/dock-3", "dockgate/gw-dock-3/status"}
    )

    def may(user: str, access: str, topic: str) -> bool:
        return any(r.allows(user, access, topic) for r in rules[None] + rules.get(user, []))

    acl = tmp_path / "acl"
    acl.write_text(block.text)
    passwords = {user: f"pw-{user}" for user in users}
    port = free_port()
    conf = mosquitto_config(
        tmp_path, [Listener(port)], write_password_file(tmp_path / "passwd", passwords), acl_file=acl
    )
    log = tmp_path / "mosquitto.log"
    broker = start_broker(conf, port, log)
    clients: dict[str, paho.Client] = {}
    received: dict[str, set[tuple[str, str]]] = {user: set() for user in users}
    try:
        stays_up(broker, log, 0.3)
        for user in users:
            subscribed = threading.Event()
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"acl-{user}", protocol=paho.MQTTv5)
            client.username_pw_set(user, passwords[user])
            client.on_connect = lambda c, *_: c.subscribe("dockgate/#", qos=1)
            client.on_subscribe = lambda *_, done=subscribed: done.set()
            client.on_message = lambda _c, _u, m, mine=received[user]: mine.add((m.payload.decode(), m.topic))
            client.connect("127.0.0.1", port)
            client.loop_start()
            clients[user] = client
            assert subscribed.wait(10), f"{user} did not subscribe:\n{log.read_text()}"
        acks: dict[tuple[str, str], int] = {}
        for user, client in clients.items():
            codes: dict[int, int] = {}
            client.on_publish = lambda _c, _u, mid, reason, _p, codes=codes: codes.__setitem__(mid, reason.value)
            mids = {topic: client.publish(topic, user.encode(), qos=1).mid for topic in topics}
            wait_until(lambda codes=codes, mids=mids: set(mids.values()) <= set(codes), 10, f"{user}'s PUBACKs")
            acks.update({(user, topic): codes[mid] for topic, mid in mids.items()})
        writes = {key: code < 0x80 for key, code in acks.items()}
        assert writes == {(u, t): may(u, "write", t) for u in users for t in topics}, block.where
        expected = {
            user: {(writer, t) for writer in users for t in topics if may(writer, "write", t) and may(user, "read", t)}
            for user in users
        }
        wait_until(
            lambda: all(expected[u] <= received[u] for u in users), 10, f"the messages each may read: {expected}"
        )
        time.sleep(0.3)  # and nothing more
        assert received == expected, block.where
    finally:
        for client in clients.values():
            client.disconnect()
            client.loop_stop()
        broker.stop()
