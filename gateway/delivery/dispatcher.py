"""Delivery: from the outbox to the broker, and back to the outbox when the broker has a message.

The dispatcher owns everything in flight, and nothing else does: the cursor (the highest seq handed to
the broker connection), which message id stands for which part of which outbox row, the refusals and
their backoff, and the latency of each event. The outbox owns what is stored; the publisher only
moves bytes and reports PUBACKs by message id.

An outbox row is one unit: its event and, when EPCIS is on, its EPCIS document (``MessageKey``'s
``part``). The row is accepted (deleted from the outbox) once every part has its PUBACK; a crash in
between sends both again: duplicates, never a loss.

A refused message (an ACL, a quota) is sent again later from the lowest refused seq, with backoff, not
every turn: the broker keeps the connection, and the refusal is logged with its seq.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from prometheus_client import Histogram

from gateway.delivery.mqtt import Ack
from gateway.delivery.outbox import Outbox
from gateway.domain.backoff import full_jitter
from gateway.domain.log import get_logger
from gateway.domain.model import LocationEvent

log = get_logger(__name__)

_LATENCY_TRACKED_MAX = 100_000  # events whose detection time is kept for the latency histogram, at most


class Transport(Protocol):
    """What the dispatcher needs of the broker connection (``MqttPublisher``)."""

    @property
    def connected(self) -> bool: ...

    @property
    def where(self) -> str: ...

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int: ...

    def take_acks(self) -> list[Ack]: ...


class Part(Enum):
    EVENT = "event"
    EPCIS = "epcis"
    OWNER = "owner"  # the event again on its owner's topic (mqtt.owner_topics)


@dataclass(frozen=True, slots=True)
class MessageKey:
    """What a message in flight is: one part of the outbox row ``seq``."""

    seq: int
    part: Part


@dataclass(frozen=True, slots=True)
class Latency:
    """The histograms the dispatcher observes when an event has its PUBACK."""

    publish: Histogram  # handed to MQTT -> PUBACK
    read_to_publish: Histogram  # the read (or decision) behind the event -> PUBACK


class Dispatcher:
    """Not thread-safe: the main loop owns it. ``turn()`` once per main-loop turn."""

    def __init__(
        self,
        publisher: Transport,
        max_inflight: int,
        retry_delay_max: float,
        latency: Latency,
        epcis: bool,
        owner_topic: Callable[[bytes], str | None] | None = None,
    ) -> None:
        """``owner_topic``: the owner's topic of an event's payload (None: the event is about no tag), or
        None: events go on their own topic only."""
        self.publisher = publisher
        self._max_inflight = max_inflight
        self._retry_delay_max = retry_delay_max
        self._latency = latency
        self._owner_topic = owner_topic
        self._messages_per_row = 1 + epcis + (owner_topic is not None)  # messages per outbox row, at most
        self._cursor = 0  # highest seq handed to the publisher
        self._in_flight: dict[int, MessageKey] = {}  # message id -> what it is
        self._parts_left: dict[int, int] = {}  # seq -> parts of the row still without PUBACK
        self._refused_from = 0  # lowest seq the broker refused, waiting for its retry time
        self._retry_refused_at = 0.0
        self._refusals = 0
        self._detected: dict[int, float] = {}  # seq -> when the read behind it arrived
        self._sent: dict[int, tuple[float, float]] = {}  # seq -> (handed to MQTT, detected)

    @property
    def cursor(self) -> int:
        """Rows up to this seq are in flight (or done): retention must not drop them."""
        return self._cursor

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def stored(self, events: list[LocationEvent], now: float) -> None:
        """These events are in the outbox now: remember when they were detected, for their latency."""
        detected = self._detected
        if len(detected) >= _LATENCY_TRACKED_MAX:  # events dropped by retention were never published: forget them
            self._detected = detected = {seq: t for seq, t in detected.items() if seq > self._cursor}
        if len(detected) >= _LATENCY_TRACKED_MAX:
            return  # bounded while the broker is away
        for event in events:
            detected[event.seq] = event.time if event.type == "arrived" else now

    def adopt(self, old: Dispatcher) -> None:
        """After a reload with a new broker connection: what the old one had in flight is sent again from the
        outbox (cursor 0); the detection times of events not yet sent carry over."""
        self._detected = old._detected

    def turn(self, outbox: Outbox, now: float) -> None:
        """Settle the PUBACKs that arrived, retry refusals when due, and hand the broker what has room."""
        accepted, refused = self._settle(now)
        if accepted:
            outbox.accept(accepted)
        if refused:
            self._refused_from = min(self._refused_from or self._cursor, refused)
            self._refusals += 1
            self._retry_refused_at = time.monotonic() + full_jitter(self._refusals, self._retry_delay_max, base=1.0)
        if self._refused_from and time.monotonic() >= self._retry_refused_at and not self._in_flight:
            self._cursor = min(self._cursor, self._refused_from - 1)
            self._refused_from = 0
        elif not refused and accepted:
            self._refusals = 0
        if outbox.is_open and self.publisher.connected:
            self._send(outbox, now)

    def finish(self, outbox: Outbox, now: float) -> None:
        """At shutdown: accept what was acknowledged in the last turns."""
        accepted, _ = self._settle(now)
        if accepted and outbox.is_open:
            outbox.accept(accepted)

    def _send(self, outbox: Outbox, now: float) -> None:
        room = self._max_inflight - len(self._in_flight)
        if room <= 0 or self._cursor >= outbox.last_seq:
            return  # no room, or nothing stored past what was sent: no query
        publish = self.publisher.publish
        for item in outbox.next_batch(self._cursor, max(1, room // self._messages_per_row)):
            seq = item.seq
            self._in_flight[publish(item.topic, item.payload)] = MessageKey(seq, Part.EVENT)
            parts = 1
            if item.epcis_topic is not None and item.epcis_payload is not None:
                self._in_flight[publish(item.epcis_topic, item.epcis_payload)] = MessageKey(seq, Part.EPCIS)
                parts += 1
            if self._owner_topic is not None:
                topic = self._owner_topic(item.payload)
                if topic is not None:
                    self._in_flight[publish(topic, item.payload)] = MessageKey(seq, Part.OWNER)
                    parts += 1
            self._parts_left[seq] = parts
            self._cursor = seq
            detected = self._detected.pop(seq, None)
            if detected is not None:
                self._sent[seq] = (now, detected)

    def _settle(self, now: float) -> tuple[list[int], int]:
        """(rows whose every part has its PUBACK, lowest refused seq or 0)."""
        accepted: list[int] = []
        refused = 0
        for mid, refusal in self.publisher.take_acks():
            key = self._in_flight.pop(mid, None)
            if key is None:  # not an outbox row: the gateway's or a reader's retained status
                if refusal is not None:
                    log.error("status_refused", mqtt=self.publisher.where, reason=refusal)
                continue
            seq = key.seq
            if refusal is not None:
                log.error("publish_refused", seq=seq, part=key.part.value, reason=refusal)
                refused = min(refused or seq, seq)
                self._parts_left.pop(seq, None)
                continue
            if key.part is Part.EVENT:
                sent = self._sent.pop(seq, None)
                if sent is not None:
                    self._latency.publish.observe(max(0.0, now - sent[0]))
                    self._latency.read_to_publish.observe(max(0.0, now - sent[1]))
            left = self._parts_left.get(seq)
            if left is None:
                continue  # a late PUBACK of a row already done (its other part was sent again)
            if left <= 1:
                del self._parts_left[seq]
                accepted.append(seq)
            else:
                self._parts_left[seq] = left - 1
        return accepted, refused
