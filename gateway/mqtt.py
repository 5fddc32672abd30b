"""MQTT: publishes outbox events with QoS 1 and the gateway's availability.

paho-mqtt runs its network loop in its own thread. The boundary is narrow: the main loop calls
``publish`` and ``take_acks``; paho's thread only records PUBACKs (under a lock) and the connection
state. Availability follows the usual bridge pattern: a retained last will ``offline``, a retained
``online`` on every connect, and ``offline`` published on a clean stop.

paho keeps the QoS 1 messages handed to it in memory and sends them again after a reconnect; the
outbox covers what memory cannot (a crash or power cut), because a row leaves the outbox only on PUBACK.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.config import MqttSettings

log = logging.getLogger(__name__)


class MqttPublisher:
    """One connection to the broker; owned by the main loop except for paho's callbacks."""

    def __init__(self, settings: MqttSettings, gateway_id: str) -> None:
        self.settings = settings
        self.status_topic = f"{settings.topic_prefix}/{gateway_id}/status"
        protocol = paho.MQTTv5 if settings.protocol == "5" else paho.MQTTv311
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id or f"dockgate-{gateway_id}",
            protocol=protocol,
        )
        self._client.max_inflight_messages_set(settings.max_inflight)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.will_set(self.status_topic, b"offline", qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._lock = threading.Lock()
        self._acked: list[int] = []
        self._rejected: list[int] = []
        self._mid_to_seq: dict[int, int] = {}
        self._early: dict[int, ReasonCode] = {}
        self._own_mids: set[int] = set()
        self._connected = threading.Event()
        self._started = False

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background; paho reconnects by itself after a connection is lost."""
        if self._started:
            return
        self._started = True
        log.info("mqtt=%s:%d event=connecting", self.settings.host, self.settings.port)
        self._client.connect_async(self.settings.host, self.settings.port, keepalive=int(self.settings.keepalive))
        self._client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def publish(self, seq: int, topic: str, payload: bytes) -> None:
        """Hand one outbox event to paho (QoS 1); its PUBACK shows up in ``take_acks``."""
        # Not under self._lock: paho calls on_publish while holding its own mutex, and taking the two
        # locks in opposite orders would deadlock. A PUBACK that beats us here waits in _early.
        info = self._client.publish(topic, payload, qos=1)
        with self._lock:
            reason = self._early.pop(info.mid, None)
            if reason is None:
                self._mid_to_seq[info.mid] = seq
            else:
                self._settle(seq, reason)

    def take_acks(self) -> tuple[list[int], list[int]]:
        """The seqs acknowledged, and those the broker refused, since the last call."""
        with self._lock:
            acked, self._acked = self._acked, []
            rejected, self._rejected = self._rejected, []
        return acked, rejected

    def in_flight(self) -> int:
        with self._lock:
            return len(self._mid_to_seq)

    def stop(self, timeout: float = 5.0) -> None:
        """Publish ``offline`` (retained), wait for it briefly, and disconnect."""
        if not self._started:
            return
        self._started = False
        if self.connected:
            info = self._client.publish(self.status_topic, b"offline", qos=1, retain=True)
            with self._lock:
                self._own_mids.add(info.mid)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError) as exc:
                log.warning("mqtt event=offline_not_published error=%s", exc)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    # paho's thread from here on
    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Properties | None
    ) -> None:
        if reason.is_failure:
            log.error("mqtt=%s:%d event=connect_refused reason=%s", self.settings.host, self.settings.port, reason)
            return
        log.info("mqtt=%s:%d event=connected", self.settings.host, self.settings.port)
        info = client.publish(self.status_topic, b"online", qos=1, retain=True)
        with self._lock:  # its PUBACK cannot arrive before this callback returns: same thread
            self._own_mids.add(info.mid)
        self._connected.set()

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Properties | None
    ) -> None:
        if self._connected.is_set() and self._started:
            log.warning("mqtt=%s:%d event=disconnected reason=%s", self.settings.host, self.settings.port, reason)
        self._connected.clear()

    def _on_publish(
        self, client: paho.Client, userdata: Any, mid: int, reason: ReasonCode, props: Properties | None
    ) -> None:
        with self._lock:
            if mid in self._own_mids:
                self._own_mids.discard(mid)
                return
            seq = self._mid_to_seq.pop(mid, None)
            if seq is None:
                self._early[mid] = reason
            else:
                self._settle(seq, reason)

    def _settle(self, seq: int, reason: ReasonCode) -> None:
        if reason.is_failure:
            log.error("mqtt event=publish_refused seq=%d reason=%s", seq, reason)
            self._rejected.append(seq)
        else:
            self._acked.append(seq)
