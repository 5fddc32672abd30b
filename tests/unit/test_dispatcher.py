"""The dispatcher over a real outbox: what is in flight, when a row is done, refusals and their retry.

The broker connection is a recording transport that speaks the publisher's interface (message ids out,
PUBACKs back); the MQTT side itself is tested end to end against mosquitto elsewhere.
"""

from __future__ import annotations

import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram

from gateway.delivery.dispatcher import Dispatcher, Latency
from gateway.delivery.mqtt import Ack
from gateway.delivery.outbox import Outbox
from gateway.domain.model import LocationEvent
from tests.unit.test_outbox import event, topic


class Transport:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str, bytes]] = []  # (mid, topic, payload)
        self.acks: list[Ack] = []
        self.connected = True
        self.where = "test:1883"

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int:
        mid = len(self.sent) + 1
        self.sent.append((mid, topic, payload))
        return mid

    def take_acks(self) -> list[Ack]:
        acks, self.acks = self.acks, []
        return acks

    def mids(self, topic_part: str) -> list[int]:
        return [mid for mid, t, _ in self.sent if topic_part in t]


def _latency() -> Latency:
    registry = CollectorRegistry()
    return Latency(Histogram("p", "p", registry=registry), Histogram("r", "r", registry=registry))


def _epcis_of(e: LocationEvent) -> tuple[str, bytes]:
    return f"epcis/{e.location}", b"{}"


def _setup(tmp_path: Path, events: int, epcis: bool, max_inflight: int = 100) -> tuple[Dispatcher, Transport, Outbox]:
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.open()
    stored = [event(f"{i:024X}") for i in range(events)]
    outbox.append(stored, topic, epcis_of=_epcis_of if epcis else None)
    transport = Transport()
    dispatcher = Dispatcher(transport, max_inflight, retry_delay_max=0.01, latency=_latency(), epcis=epcis)
    dispatcher.stored(stored, 0.0)
    return dispatcher, transport, outbox


def test_a_row_is_accepted_only_when_its_event_and_its_document_have_their_pubacks(tmp_path: Path) -> None:
    dispatcher, transport, outbox = _setup(tmp_path, 3, epcis=True)
    dispatcher.turn(outbox, 1.0)
    events, documents = transport.mids("events"), transport.mids("epcis")
    assert len(events) == len(documents) == 3 and dispatcher.in_flight == 6
    transport.acks = [(events[0], None), (documents[1], None)]  # half of row 1, half of row 2
    dispatcher.turn(outbox, 1.1)
    assert outbox.pending_count() == 3
    transport.acks = [(documents[0], None), (events[1], None), (events[2], None)]
    dispatcher.turn(outbox, 1.2)
    assert [i.seq for i in outbox.next_batch(0, 10)] == [3]  # row 3 still waits for its document
    transport.acks = [(documents[2], None), (999, None)]  # and a PUBACK of a reader status: not a row
    dispatcher.turn(outbox, 1.3)
    assert outbox.pending_count() == 0 and dispatcher.in_flight == 0


def test_no_more_in_flight_than_allowed_and_the_cursor_moves_on(tmp_path: Path) -> None:
    dispatcher, transport, outbox = _setup(tmp_path, 10, epcis=False, max_inflight=4)
    dispatcher.turn(outbox, 1.0)
    assert len(transport.sent) == 4 and dispatcher.cursor == 4
    dispatcher.turn(outbox, 1.1)
    assert len(transport.sent) == 4  # no room
    transport.acks = [(1, None), (2, None)]
    dispatcher.turn(outbox, 1.2)
    assert len(transport.sent) == 6 and dispatcher.cursor == 6 and outbox.pending_count() == 8


def test_a_refused_row_stays_and_is_sent_again_after_its_backoff(tmp_path: Path) -> None:
    dispatcher, transport, outbox = _setup(tmp_path, 3, epcis=False)
    dispatcher.turn(outbox, 1.0)
    transport.acks = [(1, None), (2, "Not authorized"), (3, None)]
    dispatcher.turn(outbox, 1.1)
    assert [i.seq for i in outbox.next_batch(0, 10)] == [2]
    assert len(transport.sent) == 3  # not at once: with backoff
    time.sleep(0.05)
    dispatcher.turn(outbox, 1.2)  # the retry time has come and nothing is in flight: from seq 2 again
    assert [t for _, t, _ in transport.sent[3:]] == ["dockgate/gw/events/dock-3"]
    transport.acks = [(4, None)]
    dispatcher.turn(outbox, 1.3)
    assert outbox.pending_count() == 0


def test_not_connected_nothing_is_sent(tmp_path: Path) -> None:
    dispatcher, transport, outbox = _setup(tmp_path, 2, epcis=False)
    transport.connected = False
    dispatcher.turn(outbox, 1.0)
    assert transport.sent == [] and dispatcher.cursor == 0
