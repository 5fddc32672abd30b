"""A real mosquitto starts with the configuration files the docs give, as written, with only their paths,
ports and host names rewritten to this test's temp folder and free ports (issue 20, defect 1).

What is rewritten: ``/etc/mosquitto/...`` and ``/var/lib/mosquitto/`` paths (to files made here: a password
file by ``mosquitto_passwd``, the ACL block of the same doc, certificates from tests/tlsutil.make_pki), the
listener and bridge address (to free ports on 127.0.0.1), and a ``user`` line is added (started as root,
mosquitto would drop to user "mosquitto", who cannot read pytest's private temp folders). The bridge's file
is a conf.d file: the edge broker's listener, which the main mosquitto.conf would give, is added too.
"""

from __future__ import annotations

import getpass
import re
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import Broker, free_port, wait_until
from tests.docblocks import mosquitto_block
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
