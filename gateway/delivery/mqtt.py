"""MQTT: publishes outbox events with QoS 1, the gateway's availability and each reader's status.

One network thread of ours drives paho (``client.loop()``) and reconnects with capped exponential
backoff and full jitter, so a fleet that restarts together does not reconnect in lockstep (paho's own
reconnect has no jitter). The publisher is a transport: ``publish`` returns paho's message id, and
``take_acks`` hands the main loop the PUBACKs (message id, refused or not) that arrived since it last
asked. What a message id stands for (an event, its EPCIS document, a reader status) is the
dispatcher's business (``gateway.delivery.dispatcher``): it owns everything in flight. The network
thread only records PUBACKs (under a lock) and the connection state.

Availability follows the usual bridge pattern: a retained last will ``offline``, a retained
``online`` on every connect, ``offline`` published on a clean stop.

paho keeps the QoS 1 messages handed to it in memory and sends them again after a reconnect; the
outbox covers what memory cannot (a crash or power cut), because a row leaves the outbox only on PUBACK.
Secrets: the password is read from a file or the environment when the publisher is built, handed to
paho, and never logged, put in an error message or kept anywhere else.
"""

from __future__ import annotations

import contextlib
import os
import select
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.config import MqttSettings
from gateway.delivery import tcp
from gateway.domain.backoff import full_jitter
from gateway.domain.errors import DockgateError
from gateway.domain.log import get_logger
from gateway.ops.logs import register_secret

log = get_logger(__name__)


class MqttSetupError(DockgateError):
    """The MQTT settings cannot be put to use (a missing password file, an unreadable certificate)."""


def read_password(settings: MqttSettings) -> str | None:
    """The password from ``password_file`` or ``password_env``; never logged."""
    if settings.password_file is not None:
        path = settings.password_file
        if not path.is_absolute() and os.environ.get("CREDENTIALS_DIRECTORY"):
            path = os.path.join(os.environ["CREDENTIALS_DIRECTORY"], str(path))  # type: ignore[assignment]
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().rstrip("\r\n")
        except OSError as exc:
            raise MqttSetupError(f"mqtt.password_file: cannot read {path}: {exc.strerror}") from None
    if settings.password_env is not None:
        value = os.environ.get(settings.password_env)
        if value is None:
            raise MqttSetupError(f"mqtt.password_env: the environment variable {settings.password_env} is not set")
        return value
    return None


def _read_pem(setting: str, path: Path, marker: str, what: str) -> None:
    """Fail naming ``mqtt.tls.<setting>`` and ``path`` when the file cannot be read or holds no ``what``;
    OpenSSL's own errors name neither."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise MqttSetupError(f"mqtt.tls.{setting}: cannot read {path}: {exc.strerror}") from None
    if marker.encode() not in text:
        raise MqttSetupError(f"mqtt.tls.{setting}: {path} holds no {what} (expected PEM: '-----BEGIN ...{marker}')")


def _tls_context(settings: MqttSettings) -> ssl.SSLContext:
    tls = settings.tls
    assert tls is not None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.ca_file is not None:
        _read_pem("ca_file", tls.ca_file, "CERTIFICATE-----", "certificate")
        try:
            context.load_verify_locations(cafile=str(tls.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise MqttSetupError(f"mqtt.tls.ca_file: cannot load the CA certificates in {tls.ca_file}: {exc}") from None
    if tls.cert_file is not None:
        _read_pem("cert_file", tls.cert_file, "CERTIFICATE-----", "certificate")
        if tls.key_file is not None:
            key, settings_named = tls.key_file, "mqtt.tls.cert_file, mqtt.tls.key_file"
            _read_pem("key_file", key, "PRIVATE KEY-----", "private key")
        else:  # the key in the certificate's file
            key, settings_named = tls.cert_file, "mqtt.tls.cert_file"
            _read_pem("cert_file", key, "PRIVATE KEY-----", "private key (and mqtt.tls.key_file is not set)")
        try:
            context.load_cert_chain(str(tls.cert_file), str(key))
        except (OSError, ssl.SSLError) as exc:
            raise MqttSetupError(
                f"{settings_named}: cannot load the certificate {tls.cert_file} with the key {key}: {exc}"
            ) from None
    if tls.insecure_skip_verify:
        log.warning(
            "tls_verification_off",
            mqtt=f"{settings.host}:{settings.port}",
            detail="the broker's certificate and host name are NOT checked (mqtt.tls.insecure_skip_verify); "
            "use only for testing",
        )
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


Ack = tuple[int, str | None]
"""(message id, refusal): a PUBACK; ``refusal`` is the broker's reason when it said no (an ACL, a quota)."""


class MqttPublisher:
    """One connection to the broker; owned by the main loop except for the network thread's callbacks."""

    def __init__(self, settings: MqttSettings, gateway_id: str, status_topic: str) -> None:
        self.settings = settings
        self.status_topic = status_topic
        protocol = paho.MQTTv5 if settings.protocol == "5" else paho.MQTTv311
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id or f"dockgate-{gateway_id}",
            protocol=protocol,
            reconnect_on_failure=False,  # our network thread reconnects, with jitter
        )
        if settings.username is not None:
            password = read_password(settings)
            register_secret(password)  # the log redaction filter blanks it wherever it might appear
            self._client.username_pw_set(settings.username, password)
        if settings.tls is not None:
            self._client.tls_set_context(_tls_context(settings))
        self._client.max_inflight_messages_set(settings.max_inflight)
        self._client.max_queued_messages_set(0)
        self._client.will_set(self.status_topic, b"offline", qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._lock = threading.Lock()  # around _acks: the network thread adds, the main loop takes
        self._io_lock = threading.RLock()  # around every paho call that may touch the socket
        self._acks: list[Ack] = []
        self._ack_now = False  # acknowledge the broker's packets at once (gateway.delivery.tcp); per connection
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.connects = 0
        self.last_error: str | None = None
        self.on_ack: Callable[[], None] | None = None  # called (non-blocking) when the first ack is waiting
        self._subscriptions: dict[str, Callable[[paho.MQTTMessage], None]] = {}
        self._client.on_message = self._on_message

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def start(self) -> None:
        """Connect in the background, and again whenever the connection is lost."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int:
        """Hand one QoS 1 message to paho; returns its message id, whose PUBACK shows up in ``take_acks``.
        A PUBACK that beats the caller to its id waits in ``take_acks`` like any other: the main loop,
        which calls both, registers the id before it next takes acks."""
        with self._io_lock:
            info = self._client.publish(topic, payload, qos=1, retain=retain)
        return int(info.mid)

    def subscribe(self, topic: str, handler: Callable[[paho.MQTTMessage], None]) -> None:
        """Before ``start``: ``handler(message)`` for each message on ``topic`` (QoS 1, subscribed again on
        every connect), called on the network thread: it must be quick and must not raise."""
        self._subscriptions[topic] = handler

    def reply(self, topic: str, payload: bytes, correlation: bytes | None = None) -> None:
        """An answer to a command: QoS 1, not retained, with the request's correlation data (MQTT 5)."""
        properties = None
        if correlation is not None and self.settings.protocol == "5":
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.CorrelationData = correlation
        with self._io_lock:
            self._client.publish(topic, payload, qos=1, properties=properties)

    def take_acks(self) -> list[Ack]:
        """The PUBACKs since the last call."""
        with self._lock:
            acks, self._acks = self._acks, []
        return acks

    def stop(self, timeout: float = 5.0) -> None:
        """Publish ``offline`` (retained), wait for it briefly, disconnect, join the network thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self.connected:
            with self._io_lock:
                info = self._client.publish(self.status_topic, b"offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError) as exc:
                log.warning("offline_not_published", mqtt=self.where, error=str(exc))
        self._stopping.set()
        with self._io_lock:
            self._client.disconnect()
        thread.join(timeout + 5)
        self._connected.clear()

    # the network thread from here on
    def _run(self) -> None:
        attempt = 0
        settings = self.settings
        while not self._stopping.is_set():
            try:
                with self._io_lock:
                    self._client.connect(settings.host, settings.port, keepalive=int(settings.keepalive))
            except (OSError, ssl.SSLError) as exc:  # refused, unreachable, TLS handshake failed
                self.last_error = _describe_connect_error(exc)
                attempt += 1
                delay = full_jitter(attempt, settings.reconnect_delay_max)
                log.warning(
                    "connect_failed", mqtt=self.where, attempt=attempt, delay_s=round(delay, 1), error=self.last_error
                )
                self._stopping.wait(delay)
                continue
            while not self._stopping.is_set():
                if self._turn(0.2) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
            if self._stopping.is_set():
                # let the DISCONNECT (and the offline message before it) go out
                for _ in range(10):
                    if self._turn(0.1) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                        break
                break
            self._connected.clear()
            attempt = 1 if self.connects and self.last_error is None else attempt + 1
            delay = full_jitter(attempt, settings.reconnect_delay_max)
            log.warning(
                "reconnect",
                mqtt=self.where,
                attempt=attempt,
                delay_s=round(delay, 1),
                reason=self.last_error or "connection lost",
            )
            self._stopping.wait(delay)

    def _turn(self, timeout: float) -> MQTTErrorCode:
        """One turn of the network loop. The socket is only ever touched under ``_io_lock``: paho
        writes from whichever thread publishes, and two threads on one TLS socket corrupt it."""
        sock = self._client.socket()
        if sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        pending = getattr(sock, "pending", None)
        if not (pending is not None and pending()):  # TLS may hold decrypted bytes already
            want_write = [sock] if self._client.want_write() else []
            with contextlib.suppress(OSError, ValueError):  # closed under us: loop() below reports it
                select.select([sock], want_write, [], timeout)
        with self._io_lock:
            return self._client.loop(timeout=0)

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Properties | None
    ) -> None:
        if reason.is_failure:
            self.last_error = f"broker refused the connection: {reason}"
            log.error("connect_refused", mqtt=self.where, reason=str(reason))
            return
        self.last_error = None
        self.connects += 1
        sock = client.socket()
        tcp.no_delay(sock)
        self._ack_now = tcp.ack_now(sock)
        log.info("connected", mqtt=self.where)
        client.publish(self.status_topic, b"online", qos=1, retain=True)
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
        self._connected.set()

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        handler = self._subscriptions.get(message.topic)
        if handler is None:
            return
        try:
            handler(message)
        except Exception as exc:  # a bad message must not end the network thread
            log.error("message_handler_failed", topic=message.topic, error=f"{type(exc).__name__}: {exc}")

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Properties | None
    ) -> None:
        if self._connected.is_set() and not self._stopping.is_set():
            self.last_error = f"connection lost: {reason}"
            log.warning("disconnected", mqtt=self.where, reason=str(reason))
        self._connected.clear()

    def _on_publish(
        self, client: paho.Client, userdata: Any, mid: int, reason: ReasonCode, props: Properties | None
    ) -> None:
        with self._lock:
            first = not self._acks
            self._acks.append((mid, str(reason) if reason.is_failure else None))
        if self._ack_now:  # the kernel clears TCP_QUICKACK by itself: set it again for the next PUBACK
            self._ack_now = tcp.ack_now(client.socket())
        if first and self.on_ack is not None:
            self.on_ack()  # the first ack since the main loop last looked: wake it


def _describe_connect_error(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: the broker's certificate was not accepted: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the broker running on this port?)"
    return str(exc) or type(exc).__name__
