"""The MQTT connection's TCP options (gateway.delivery.tcp): set on a real loopback socket, refused
quietly by what is no TCP socket, and on the publisher's own connection to a real mosquitto. What they
are for, a PUBACK that no longer waits 40 ms on the delayed-ACK timer, is a figure: `dockgate bench
throughput` (docs/benchmarks.md), not a timed test."""

from __future__ import annotations

import socket
import sys
import time

import pytest

from gateway.config import MqttSettings
from gateway.delivery import tcp
from gateway.delivery.mqtt import MqttPublisher
from tests.conftest import Broker

pytestmark = pytest.mark.timeout(30)


def test_on_a_loopback_connection() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
        with client, peer:
            assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
            assert tcp.no_delay(client)
            assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            assert tcp.ack_now(client) is sys.platform.startswith("linux")


def test_what_is_no_tcp_socket_keeps_its_defaults() -> None:
    closed = socket.socket()
    closed.close()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with udp:
        for thing in (None, object(), closed, udp):
            assert not tcp.no_delay(thing) and not tcp.ack_now(thing)


def test_the_publishers_connection_sends_without_waiting(mosquitto: Broker) -> None:
    settings = MqttSettings.model_validate({"host": mosquitto.host, "port": mosquitto.port})
    publisher = MqttPublisher(settings, "gw-tcp", "dockgate/gw-tcp/status")
    publisher.start()
    try:
        assert publisher.wait_connected(10)
        sock: socket.socket = publisher._client.socket()  # type: ignore[assignment]  # a plain TCP one here
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        mids = {publisher.publish("dockgate/gw-tcp/events/x", b"{}") for _ in range(50)}
        acked: set[int] = set()
        for _ in range(200):
            acked |= {mid for mid, refusal in publisher.take_acks() if refusal is None}
            if mids <= acked:
                break
            time.sleep(0.05)
        assert mids <= acked  # acknowledgements still come (re-arming TCP_QUICKACK on each one broke nothing)
    finally:
        publisher.stop(timeout=2.0)
