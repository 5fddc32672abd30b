"""Shared fixtures: a real mosquitto on a free port, an MQTT subscriber, and a guard against leaked threads."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from jsonschema import Draft202012Validator
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.ops.net import free_port

REPO = Path(__file__).resolve().parent.parent
EVENT_SCHEMA = json.loads((REPO / "docs" / "event.schema.json").read_text(encoding="utf-8"))
_EVENT_VALIDATOR = Draft202012Validator(EVENT_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def check_event(event: Any, where: str = "event") -> None:
    """Raise AssertionError naming every way ``event`` breaks docs/event.schema.json."""
    problems = [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in sorted(_EVENT_VALIDATOR.iter_errors(event), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if problems:
        raise AssertionError(f"{where} breaks docs/event.schema.json: {'; '.join(problems)}\n{event}")


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def wait_until(predicate: Callable[[], bool], timeout: float, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def turn_until(gateway: Any, predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Turn an in-process gateway's main loop (``Gateway.step``) until ``predicate`` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        gateway.step(0.02)


@dataclass
class Broker:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    conf: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)

    def restart(self) -> None:
        self.stop()
        self.process = subprocess.Popen(
            [_mosquitto(), "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)


def _mosquitto() -> str:
    path = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if path is None:
        pytest.fail("mosquitto is not installed: run ./scripts/test, which installs it")
    return path


def start_mosquitto(tmp_path: Path, port: int | None = None, persistent: bool = False) -> Broker:
    """A mosquitto on ``port``; ``persistent``: sessions and queued messages survive a restart (the
    database is saved in ``tmp_path`` when it stops)."""
    port = port or free_port()
    conf = tmp_path / "mosquitto.conf"
    # max_queued_messages 0: mosquitto's default of 1000 would silently drop QoS 1 messages to a slow
    # test subscriber, and the test would blame the gateway.
    persistence = f"persistence true\npersistence_location {tmp_path}/\n" if persistent else "persistence false\n"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n{persistence}")
    process = subprocess.Popen([_mosquitto(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    broker = Broker("127.0.0.1", port, process, conf)
    try:
        wait_for_port(port)
    except TimeoutError:
        broker.stop()
        raise
    return broker


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    broker = start_mosquitto(tmp_path)
    yield broker
    broker.stop()


NOT_ABOUT_GOODS = frozenset({"report", "command"})


class Subscriber:
    """Collects every message on a topic filter; QoS 1, a clean session. ``session_id``: a session that
    outlives the connection (and, on a ``persistent`` broker, a restart): the broker queues what is
    published meanwhile, and the subscriber reconnects within a second to fetch it."""

    def __init__(self, broker: Broker, topic: str, session_id: str = "") -> None:
        self.messages: list[paho.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=session_id, protocol=paho.MQTTv5)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        if session_id:
            self.client.reconnect_delay_set(1, 1)
            session = Properties(PacketTypes.CONNECT)
            session.SessionExpiryInterval = 3600
            self.client.connect(broker.host, broker.port, properties=session)  # clean the first time only
        else:
            self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("subscriber did not subscribe")

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def payloads(self, suffix: str = "") -> list[bytes]:
        with self._lock:
            return [m.payload for m in self.messages if m.topic.endswith(suffix)]

    def on_topic(self, topic: str) -> list[bytes]:
        with self._lock:
            return [m.payload for m in self.messages if m.topic == topic]

    def events(self, everything: bool = False) -> list[dict[str, Any]]:
        """Every event received so far about the goods, each checked against docs/event.schema.json.
        ``everything``: also the gateway's periodic reports (a test that runs across a full hour gets one)
        and its journaled commands (a shipment posted, a reload), each with a seq of its own: a test of
        seqs or of the journal wants them all."""
        with self._lock:
            found = [(m.topic, json.loads(m.payload)) for m in self.messages if "/events/" in m.topic]
        for topic, event in found:
            check_event(event, f"event on {topic}")
        return [event for _, event in found if everything or event.get("type") not in NOT_ABOUT_GOODS]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscribe(mosquitto: Broker) -> Iterator[Callable[[str], Subscriber]]:
    made: list[Subscriber] = []

    def make(topic: str) -> Subscriber:
        sub = Subscriber(mosquitto, topic)
        made.append(sub)
        return sub

    yield make
    for sub in made:
        sub.close()


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves threads running (pymodbus does the same)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked, f"test leaked threads: {[t.name for t in leaked]}"


def _children() -> dict[int, str]:
    """This process's live child processes (pid -> command name), from /proc; zombies are not counted."""
    me = str(os.getpid())
    found: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name_end = text.rfind(")")
        fields = text[name_end + 2 :].split()
        if len(fields) > 1 and fields[1] == me and fields[0] != "Z":
            found[int(stat.parent.name)] = text[text.find("(") + 1 : name_end]
    return found


@pytest.fixture(autouse=True)
def no_leaked_processes() -> Iterator[None]:
    """Fail a test that leaves child processes running (a gateway, a simulator, a broker it started)."""
    before = set(_children())
    yield
    deadline = time.monotonic() + 5
    while True:
        leaked = {pid: name for pid, name in _children().items() if pid not in before}
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked, f"test leaked child processes: {sorted(leaked.items())}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/e2e/ is ``e2e``: ``-m "not e2e"`` runs the unit tests alone."""
    e2e_dir = Path(__file__).resolve().parent / "e2e"
    for item in items:
        if e2e_dir in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)
