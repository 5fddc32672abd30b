"""MQTT security against a real mosquitto started here: TLS, mutual TLS, passwords from a file or the
environment, ACLs, refusals, certificate and host name verification, and secrets kept out of the logs.

The gateway runs as a child process (``dockgate run``), as in production; its stderr is collected
while it runs so that a test can wait for a log line.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from gateway.domain.backoff import full_jitter
from simulators.llrp.scenario import load_scenario
from tests.conftest import Broker, Subscriber, free_port, wait_until
from tests.e2e.test_e2e import QUICK, gateway_config, spawn, start_simulator, stop
from tests.tlsutil import (
    CertFiles,
    Listener,
    Pki,
    make_pki,
    mosquitto_config,
    start_broker,
    write_acl_file,
    write_password_file,
)

# Distinctive, so that finding it anywhere in a log is unambiguous.
PASSWORD = "pw-9Qx7-must-never-be-logged"
CONSUMER_PASSWORD = "consumer-pw-3Kd8"
PASSWORD_ENV = "DOCKGATE_TEST_MQTT_PASSWORD"
EVENTS = 2 * len(load_scenario(QUICK).truth())  # every tag arrives and departs: 14


class GatewayProcess:
    """``dockgate run`` as a child process, its stderr collected line by line while it runs."""

    def __init__(self, config: Path) -> None:
        self.process = spawn("run", "--config", str(config))
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._collect, name="gateway-stderr", daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    @property
    def log(self) -> str:
        """stderr as written."""
        return "".join(self.lines)

    @property
    def text(self) -> str:
        """stderr with the quoting undone (see ``plain``)."""
        return "\n".join(plain(line.rstrip("\n")) for line in list(self.lines))

    def matching(self, pattern: str) -> list[re.Match[str]]:
        """Matches of ``pattern`` in each log line, its quoting undone."""
        return [m for line in list(self.lines) if (m := re.search(pattern, plain(line.rstrip("\n"))))]

    def wait_until(self, predicate: Callable[[], bool], timeout: float, message: str) -> None:
        """conftest's wait_until, with this gateway's log in the failure message."""
        try:
            wait_until(predicate, timeout, message)
        except AssertionError as exc:
            log = self.log
            shown = log if len(log) < 12_000 else f"{log[:4000]}\n[...]\n{log[-8000:]}"
            raise AssertionError(f"{exc}; the gateway's log:\n{shown}") from None

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20) -> tuple[int, str]:
        """SIGTERM, wait; the exit code and ``text`` (assert on ``log`` for what must never be written)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the gateway did not stop within {timeout}s:\n{self.log}") from None
        finally:
            self._reader.join(5)
            if self.process.stdout is not None:
                self.process.stdout.close()
        assert_password_not_logged(self.log)
        return self.process.returncode, self.text


_QUOTED = re.compile(r'(\w[\w.-]*)=("(?:[^"\\]|\\.)*")')


def plain(line: str) -> str:
    """A log line with its quoting undone, so that tests match on content whatever the log format:
    ``ts=.. level=error logger=gateway.delivery.mqtt msg="mqtt=.. event=connect_refused reason=\"Not authorized\""``
    and ``... event=connect_refused reason="Not authorized"`` both read ``... reason=Not authorized``."""
    for _ in range(2):  # msg="...", then the key="..." inside it
        line = _QUOTED.sub(_unquote, line)
    line = re.sub(r" msg=(?=\w[\w.-]*=)", " ", line)
    return line


def _unquote(match: re.Match[str]) -> str:
    try:
        return f"{match.group(1)}={json.loads(match.group(2))}"
    except ValueError:
        return match.group(0)


class SecureSubscriber(Subscriber):
    """conftest's Subscriber, logged in with a user name, a password and (optionally) a TLS client certificate."""

    def __init__(
        self,
        port: int,
        topic: str,
        username: str,
        password: str,
        tls: tuple[Path, Path, Path] | None = None,
        host: str = "localhost",
    ) -> None:
        self.messages: list[paho.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.username_pw_set(username, password)
        if tls is not None:
            ca, cert, key = tls
            self.client.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            self.close()
            raise TimeoutError(f"subscriber {username} did not subscribe to {topic}")


def write_gateway_config(
    directory: Path, broker_port: int, reader_port: int, gateway_id: str = "gw-test", **mqtt: Any
) -> Path:
    """test_e2e's config (quick pipeline timings), with another gateway id and extra ``mqtt`` settings."""
    directory.mkdir(parents=True, exist_ok=True)
    path = gateway_config(directory, broker_port, reader_port)
    data = yaml.safe_load(path.read_text())
    data["gateway"]["id"] = gateway_id
    data["mqtt"].update(reconnect_delay_max="2s", **mqtt)
    data["metrics"] = {"listen": "off"}  # the default port, 9108, would be shared by every gateway of a test run
    path.write_text(yaml.safe_dump(_plain(data)))
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def outbox_count(directory: Path) -> int:
    """Events stored in the gateway's outbox and not yet acknowledged; -1 while it does not exist yet."""
    try:
        with closing(sqlite3.connect(directory / "outbox.db")) as db:
            return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.Error:
        return -1


def assert_password_not_logged(*logs: str) -> None:
    for text in logs:
        assert PASSWORD not in text, "the MQTT password appears in a log"
        assert CONSUMER_PASSWORD not in text


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@dataclass
class SecureBroker:
    """mosquitto with a mutual-TLS listener and a plain one, both requiring a password, and an ACL."""

    broker: Broker
    tls_port: int
    plain_port: int
    password_file: Path  # the broker's (hashed)
    pki: Pki

    def consumer(self, topic: str = "dockgate/#") -> SecureSubscriber:
        """The back office: reads dockgate/#, over mutual TLS with its own certificate."""
        tls = (self.pki.ca.cert, self.pki.consumer.cert, self.pki.consumer.key)
        return SecureSubscriber(self.tls_port, topic, "backoffice", CONSUMER_PASSWORD, tls)

    @property
    def log(self) -> str:
        return self.broker.conf.with_suffix(".log").read_text(errors="replace")


def start_secure_broker(directory: Path, pki: Pki, server_cert: CertFiles | None = None, **conf: Any) -> SecureBroker:
    directory.mkdir(parents=True, exist_ok=True)
    passwords = write_password_file(directory / "passwd", {"gw-test": PASSWORD, "backoffice": CONSUMER_PASSWORD})
    acl = write_acl_file(
        directory / "acl",
        # each gateway writes under its own prefix only; the back office reads everything
        {"gw-test": ["write dockgate/gw-test/#"], "backoffice": ["read dockgate/#"]},
    )
    tls_port, plain_port = free_port(), free_port()
    listeners = [
        Listener(tls_port, (pki.ca.cert, server_cert or pki.server), require_certificate=True),
        Listener(plain_port),
    ]
    path = mosquitto_config(directory, listeners, password_file=passwords, acl_file=acl, **conf)
    return SecureBroker(start_broker(path, tls_port), tls_port, plain_port, passwords, pki)


@pytest.fixture
def secure(tmp_path: Path, pki: Pki) -> Iterator[SecureBroker]:
    broker = start_secure_broker(tmp_path / "broker", pki)
    yield broker
    broker.broker.stop()


@pytest.fixture
def reader() -> Iterator[int]:
    """The LLRP simulator playing the quick scenario; its port."""
    sim, port = start_simulator(QUICK)
    yield port
    stop(sim)


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "secrets" / "mqtt-password"
    path.parent.mkdir()
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path


def mutual_tls(pki: Pki, **extra: Any) -> dict[str, Any]:
    return {"ca_file": pki.ca.cert, "cert_file": pki.client.cert, "key_file": pki.client.key, **extra}


def test_mutual_tls_with_password_file_delivers_every_event(
    tmp_path: Path, secure: SecureBroker, reader: int, password_file: Path
) -> None:
    sub = secure.consumer()
    config = write_gateway_config(
        tmp_path / "gw",
        secure.tls_port,
        reader,
        host="localhost",
        username="gw-test",
        password_file=password_file,
        tls=mutual_tls(secure.pki),
    )
    gateway = GatewayProcess(config)
    try:
        gateway.wait_until(lambda: len(sub.events()) >= EVENTS, 30, f"{EVENTS} events over mutual TLS")
        assert sub.on_topic("dockgate/gw-test/status") == [b"online"]
    finally:
        code, log = gateway.stop()
        sub.close()
    assert code == 0, log
    events = sub.events()
    seqs = sorted(e["seq"] for e in sub.events(everything=True))
    assert seqs == list(range(1, len(seqs) + 1)) and len(events) == EVENTS
    assert {e["gateway"] for e in events} == {"gw-test"}
    assert "event=connected" in log and "event=stopped pending=0" in log
    assert "publish_refused" not in log and "connect_failed" not in log
    assert "tls_verification_off" not in log
    assert_password_not_logged(log, secure.log)


def test_password_from_the_environment(
    tmp_path: Path, secure: SecureBroker, reader: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)  # spawn() hands os.environ to the child
    sub = secure.consumer()
    config = write_gateway_config(
        tmp_path / "gw", secure.plain_port, reader, username="gw-test", password_env=PASSWORD_ENV
    )
    gateway = GatewayProcess(config)
    try:
        gateway.wait_until(lambda: len(sub.events()) >= EVENTS, 30, f"{EVENTS} events")
        assert sub.on_topic("dockgate/gw-test/status") == [b"online"]
    finally:
        code, log = gateway.stop()
        sub.close()
    assert code == 0, log
    seqs = sorted(e["seq"] for e in sub.events(everything=True))
    assert seqs == list(range(1, len(seqs) + 1)) and len(sub.events()) == EVENTS
    assert "event=stopped pending=0" in log
    assert_password_not_logged(log)


def outside_the_acl(directory: Path, broker: SecureBroker, reader: int, password_file: Path) -> Path:
    """A gateway logged in as gw-test (allowed to write dockgate/gw-test/# only) that calls itself gw-other.

    On the plain listener, so that what is tested is the refusal alone.
    """
    return write_gateway_config(
        directory, broker.plain_port, reader, gateway_id="gw-other", username="gw-test", password_file=password_file
    )


def test_publishing_outside_the_acl_is_refused_and_the_events_stay_in_the_outbox(
    tmp_path: Path, secure: SecureBroker, reader: int, password_file: Path
) -> None:
    """mosquitto 2.0 accepts the connection (it does not check the will's topic at CONNECT) and answers
    each QoS 1 PUBLISH of an MQTT 5 client with PUBACK reason 0x87 "Not authorized".

    (The same user with its own gateway id delivers everything: test_mutual_tls_with_password_file...)
    """
    sub = secure.consumer()
    directory = tmp_path / "gw"
    gateway = GatewayProcess(outside_the_acl(directory, secure, reader, password_file))
    try:
        gateway.wait_until(lambda: outbox_count(directory) == EVENTS, 30, "every event stored in the outbox")
        gateway.wait_until(
            lambda: (
                {
                    int(m.group(1))
                    for m in gateway.matching(r"event=publish_refused seq=(\d+) part=event reason=Not authorized")
                }
                == set(range(1, EVENTS + 1))
            ),
            20,
            "a refusal of each event",
        )
        assert gateway.alive()
        assert outbox_count(directory) == EVENTS  # refused is not delivered: nothing left the outbox
    finally:
        code, log = gateway.stop()
        sub.close()
    assert code == 0, log
    assert f"event=stopped pending={EVENTS}" in log
    assert outbox_count(directory) == EVENTS
    assert sub.events() == []  # nothing got through, not even to a subscriber allowed to read everything
    assert sub.on_topic("dockgate/gw-other/status") == []  # "online" was refused too
    assert "event=disconnected" not in log  # the broker refuses each message but keeps the connection
    assert "Denied PUBLISH from dockgate-gw-other" in secure.log
    assert_password_not_logged(log)


@pytest.mark.parametrize("log_format", ["keyvalue", "json"])
def test_the_refusal_is_logged_as_security_md_shows_it_in_both_log_formats(
    tmp_path: Path, secure: SecureBroker, reader: int, password_file: Path, log_format: str
) -> None:
    """docs/security.md's line, as written (not only with the quoting undone), and in JSON logs ``event``,
    ``seq``, ``part`` and ``reason`` are keys of their own (issue 20, defect 3)."""
    directory = tmp_path / "gw"
    config = outside_the_acl(directory, secure, reader, password_file)
    data = yaml.safe_load(config.read_text())
    data["logging"] = {"format": log_format}
    config.write_text(yaml.safe_dump(data))
    gateway = GatewayProcess(config)
    try:
        gateway.wait_until(lambda: "publish_refused" in gateway.log, 30, "a refusal")
    finally:
        gateway.stop()
    refusals = [line for line in gateway.lines if "publish_refused" in line]
    if log_format == "keyvalue":
        doc = (Path(__file__).parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
        shown = re.search(r"`(event=publish_refused seq=N [^`]*)`", doc)
        assert shown, "docs/security.md no longer shows the refusal's key=value line"
        written = re.compile(re.escape(shown.group(1)).replace("seq=N", r"seq=\d+"))
        assert all(written.search(line) for line in refusals), refusals
    else:
        records = [json.loads(line) for line in refusals]
        assert all(r["event"] == "publish_refused" and isinstance(r["seq"], int) for r in records), records
        assert all(r["part"] == "event" and r["reason"] == "Not authorized" for r in records), records
        assert not any("msg" in r for r in records), records
        doc = (Path(__file__).parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
        shown_json = re.search(r'`(\{[^`]*"event": "publish_refused"[^`]*\})`', doc)
        assert shown_json, "docs/security.md does not show the refusal's JSON line"
        example = json.loads(shown_json.group(1))
        assert example.keys() == records[0].keys()
        assert {k: v for k, v in example.items() if k not in ("ts", "seq")} == {
            k: v for k, v in records[0].items() if k not in ("ts", "seq")
        }


def test_refused_events_are_retried_with_backoff_not_every_tick(
    tmp_path: Path, secure: SecureBroker, reader: int, password_file: Path
) -> None:
    directory = tmp_path / "gw"
    gateway = GatewayProcess(outside_the_acl(directory, secure, reader, password_file))
    try:
        gateway.wait_until(
            lambda: len(gateway.matching(r"event=publish_refused seq=14 ")) >= 1, 30, "refusal of seq 14"
        )
        time.sleep(5)
    finally:
        gateway.stop()
    refusals_of_14 = len(re.findall(r"event=publish_refused seq=14 ", gateway.text))
    # A capped backoff (reconnect_delay_max 2s here) allows a handful of retries in 5 s, not a hundred.
    assert refusals_of_14 <= 10, f"seq 14 was refused {refusals_of_14} times in about 5 s"


def test_with_max_queued_messages_0_mosquitto_2_0_drops_the_connection_and_nothing_is_lost(
    tmp_path: Path, pki: Pki, reader: int, password_file: Path
) -> None:
    """mosquitto 2.0.x with ``max_queued_messages 0`` disconnects a client after any refused PUBLISH (see
    tlsutil.mosquitto_config). The gateway then reconnects with backoff, again and again, and keeps the events."""
    broker = start_secure_broker(tmp_path / "broker", pki, max_queued_messages=0)
    directory = tmp_path / "gw"
    gateway = GatewayProcess(outside_the_acl(directory, broker, reader, password_file))
    try:
        gateway.wait_until(lambda: outbox_count(directory) == EVENTS, 30, "every event stored in the outbox")
        gateway.wait_until(
            lambda: len(gateway.matching(r"event=reconnect mqtt=\S+ attempt=\d+")) >= 3, 20, "three reconnects"
        )
        assert gateway.alive()
    finally:
        code, log = gateway.stop()
        broker.broker.stop()
    assert code == 0, log
    assert re.search(r"event=disconnected mqtt=\S+ reason=Unspecified error", log), log
    assert outbox_count(directory) == EVENTS
    assert "Bad socket read/write on client dockgate-gw-other" in broker.log
    assert_password_not_logged(log)


WRONG_PASSWORD = "pw-WRONG-5tq2-not-logged-either"


def test_wrong_password_is_refused_clearly_retried_with_backoff_and_never_logged(
    tmp_path: Path, secure: SecureBroker
) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text(WRONG_PASSWORD + "\n")
    config = write_gateway_config(
        tmp_path / "gw", secure.plain_port, free_port(), username="gw-test", password_file=wrong
    )
    gateway = GatewayProcess(config)
    try:
        gateway.wait_until(
            lambda: len(gateway.matching(r"event=reconnect mqtt=\S+ attempt=")) >= 3, 20, "three connection attempts"
        )
        assert gateway.alive()
        refusals = gateway.matching(r"event=connect_refused mqtt=\S+ reason=(.+)$")
        assert refusals, gateway.log
        # mosquitto 2.0 answers an MQTT 5 client's bad password with CONNACK 0x86 or 0x87
        assert {m.group(1) for m in refusals} <= {"Bad user name or password", "Not authorized"}, gateway.log
        retries = gateway.matching(r"event=reconnect mqtt=\S+ attempt=(\d+) delay_s=([\d.]+) reason=(.+)$")
        attempts = [int(m.group(1)) for m in retries]
        assert attempts == list(range(1, len(attempts) + 1)), gateway.log  # counted up while refused
        delays = [float(m.group(2)) for m in retries]
        assert all(0 <= d <= 2.0 for d in delays), delays  # full jitter under reconnect_delay_max
        assert all(m.group(3).startswith("broker refused the connection: ") for m in retries)
        assert "event=connected" not in gateway.log

        # The broker learns the gateway's password (SIGHUP reloads password_file): the next attempt gets in.
        write_password_file(secure.password_file, {"gw-test": WRONG_PASSWORD, "backoffice": CONSUMER_PASSWORD})
        secure.broker.process.send_signal(signal.SIGHUP)
        gateway.wait_until(
            lambda: "event=connected" in gateway.log, 20, "a connection after the broker's password changed"
        )
    finally:
        code, log = gateway.stop()
    assert code == 0, log
    assert WRONG_PASSWORD not in gateway.log and WRONG_PASSWORD not in secure.log
    assert_password_not_logged(log)


def test_a_broker_certificate_from_an_unknown_ca_is_rejected_and_retried(
    tmp_path: Path, pki: Pki, password_file: Path
) -> None:
    broker = start_secure_broker(tmp_path / "broker", pki, server_cert=pki.server_from_other_ca)
    config = write_gateway_config(
        tmp_path / "gw",
        broker.tls_port,
        free_port(),
        host="localhost",
        username="gw-test",
        password_file=password_file,
        tls=mutual_tls(pki),
    )
    gateway = GatewayProcess(config)
    try:
        failed = r"event=connect_failed mqtt=\S+ attempt=(\d+) delay_s=[\d.]+ error=(.+)$"
        gateway.wait_until(lambda: len(gateway.matching(failed)) >= 3, 20, "three failed attempts")
        assert gateway.alive()
    finally:
        code, log = gateway.stop()
        broker.broker.stop()
    assert code == 0, log
    errors = [m.group(2) for m in gateway.matching(failed)]
    assert all(e.startswith("TLS: the broker's certificate was not accepted: ") for e in errors), errors
    assert "unable to get local issuer certificate" in errors[0]
    assert "event=connected" not in log
    assert_password_not_logged(log)


def test_host_name_verification_and_insecure_skip_verify(tmp_path: Path, password_file: Path) -> None:
    """The broker's certificate names only ``localhost``; the gateway dials 127.0.0.1."""
    localhost_only = make_pki(tmp_path / "pki", server_ips=())
    broker = start_secure_broker(tmp_path / "broker", localhost_only)
    sub = broker.consumer("dockgate/+/status")  # by name: valid for the consumer
    try:
        _check_host_name_verification(tmp_path, broker, sub, localhost_only, password_file)
    finally:
        sub.close()
        broker.broker.stop()


def _check_host_name_verification(
    tmp_path: Path, broker: SecureBroker, sub: Subscriber, localhost_only: Pki, password_file: Path
) -> None:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "username": "gw-test",
        "password_file": password_file,
        "tls": mutual_tls(localhost_only),
    }
    strict = GatewayProcess(write_gateway_config(tmp_path / "strict", broker.tls_port, free_port(), **settings))
    try:
        failed = r"event=connect_failed mqtt=\S+ attempt=\d+ delay_s=[\d.]+ error=(.+)$"
        strict.wait_until(lambda: len(strict.matching(failed)) >= 2, 20, "two failed attempts")
        assert strict.alive()
    finally:
        strict_code, strict_log = strict.stop()
    assert strict_code == 0, strict_log
    error = strict.matching(failed)[0].group(1)
    assert error.startswith("TLS: the broker's certificate was not accepted: "), error
    assert "IP address mismatch" in error and "127.0.0.1" in error, error
    assert "event=connected" not in strict_log

    settings["tls"] = mutual_tls(localhost_only, insecure_skip_verify=True)
    lax = GatewayProcess(write_gateway_config(tmp_path / "lax", broker.tls_port, free_port(), **settings))
    try:
        lax.wait_until(
            lambda: sub.on_topic("dockgate/gw-test/status") == [b"online"], 20, "online without verification"
        )
    finally:
        lax_code, lax_log = lax.stop()
    assert lax_code == 0, lax_log
    assert lax.matching(r"(WARNING|level=warning) .*event=tls_verification_off mqtt=127\.0\.0\.1:\d+ "), lax_log
    assert "event=connected" in lax_log
    assert "tls_verification_off" not in strict_log
    assert_password_not_logged(strict_log, lax_log)


def test_check_config_and_startup_errors_never_show_the_password(tmp_path: Path, password_file: Path) -> None:
    config = write_gateway_config(
        tmp_path / "gw", free_port(), free_port(), username="gw-test", password_file=password_file
    )
    checked = spawn("check-config", str(config))
    out, err = checked.communicate(timeout=30)
    assert checked.returncode == 0, err
    assert_password_not_logged(out, err)

    # A password written into the config itself is not a setting: refused, and not echoed back.
    inline = tmp_path / "inline.yaml"
    data = yaml.safe_load(config.read_text())
    del data["mqtt"]["password_file"]
    data["mqtt"]["password"] = PASSWORD
    inline.write_text(yaml.safe_dump(data))
    for args in (("check-config", str(inline)), ("run", "--config", str(inline))):
        process = spawn(*args)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 2, err
        assert "mqtt.password: unknown key" in err
        assert_password_not_logged(out, err)


def test_a_missing_password_variable_is_named_not_guessed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    config = write_gateway_config(
        tmp_path / "gw", free_port(), free_port(), username="gw-test", password_env=PASSWORD_ENV
    )
    gateway = GatewayProcess(config)
    gateway.process.wait(30)  # it exits by itself
    code, log = gateway.stop()
    assert code == 1, log
    assert f"event=startup_failed error=mqtt.password_env: the environment variable {PASSWORD_ENV} is not set" in log


class TestBackoffDelay:
    """``full_jitter``: full jitter, uniform in [0, min(cap, base * 2**attempt)]."""

    def test_within_the_exponential_bound_and_the_cap(self) -> None:
        for attempt in range(40):
            bound = min(10.0, 0.5 * 2**attempt)
            delays = [full_jitter(attempt, cap=10.0) for _ in range(200)]
            assert all(0.0 <= d <= bound for d in delays), (attempt, max(delays))
            # full jitter spreads over the whole range (a 2**-200 chance to fail by bad luck)
            assert max(delays) > bound / 2

    def test_not_constant_so_a_fleet_does_not_reconnect_in_lockstep(self) -> None:
        for attempt in (1, 5, 30):
            assert len({full_jitter(attempt, cap=60.0) for _ in range(50)}) > 40

    def test_capped_for_any_attempt(self) -> None:
        assert all(full_jitter(attempt, cap=2.0) <= 2.0 for attempt in (31, 100, 10_000))
        assert all(full_jitter(3, cap=60.0, base=1.0) <= 8.0 for _ in range(200))


def test_tls_survives_publishing_from_the_main_loop(tmp_path: Path, secure: SecureBroker, password_file: Path) -> None:
    """MqttPublisher in this process, over mutual TLS, used as the gateway's main loop uses it."""
    from gateway.config import MqttSettings
    from gateway.delivery.mqtt import MqttPublisher

    settings = MqttSettings.model_validate(
        {
            "host": "localhost",
            "port": secure.tls_port,
            "username": "gw-test",
            "password_file": password_file,
            "tls": mutual_tls(secure.pki),
            "max_inflight": 100,
        }
    )
    total = 30_000  # a race: it shows within about 1,500 messages here
    publisher = MqttPublisher(settings, "gw-test", "dockgate/gw-test/status")
    publisher.start()
    acked: list[int] = []
    sent: set[int] = set()  # message ids in flight
    try:
        assert publisher.wait_connected(10)
        deadline = time.monotonic() + 20
        seq = 0

        def settle() -> None:
            for mid, refusal in publisher.take_acks():
                if mid in sent:  # not the retained "online"
                    assert refusal is None, refusal
                    sent.discard(mid)
                    acked.append(mid)

        while seq < total and time.monotonic() < deadline and publisher.connected:
            settle()
            if len(sent) < 100:
                seq += 1
                sent.add(publisher.publish("dockgate/gw-test/events/load", b"x" * 300))
            else:
                time.sleep(0.0005)

        def all_acked() -> bool:
            settle()
            return len(acked) >= seq

        wait_until(all_acked, 10, "every PUBACK")
    finally:
        publisher.stop()
    assert "bad record mac" not in secure.log and "Protocol error" not in secure.log
    assert len(acked) == seq == total
