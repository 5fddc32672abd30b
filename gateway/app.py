"""The gateway: readers -> pipeline -> outbox -> MQTT, driven by one main loop.

Concurrency model: one main loop owns the pipeline, the outbox and the delivery cursor. Drivers hand
batches of reads across one thread-safe queue; paho hands PUBACKs across the publisher's lock. Nothing
else crosses threads.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from drivers import ReaderDriver, create_driver
from gateway.config import Config
from gateway.errors import OutboxError
from gateway.model import LocationEvent, TagRead
from gateway.mqtt import MqttPublisher
from gateway.outbox import Outbox
from gateway.pipeline import Pipeline

log = logging.getLogger(__name__)

Clock = Callable[[], float]
_TICK_S = 0.05


class Gateway:
    """Wires the parts together; ``run()`` is the main loop, ``request_stop()`` may come from any thread."""

    def __init__(self, config: Config, clock: Clock = time.time) -> None:
        self.config = config
        self.clock = clock
        self.pipeline = Pipeline(config)
        self.outbox = Outbox(config.outbox.path)
        self.publisher = MqttPublisher(config.mqtt, config.gateway.id)
        self._reads: queue.SimpleQueue[list[TagRead]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._cursor = 0  # highest seq handed to the publisher
        self._unsaved: list[LocationEvent] = []  # events the outbox could not store yet
        self.reader_state: dict[str, str] = {}
        self.drivers: list[ReaderDriver] = [
            create_driver(settings, self._reads.put, self._on_reader_status) for settings in config.readers
        ]
        prefix, gw = config.mqtt.topic_prefix, config.gateway.id
        self._event_topic = f"{prefix}/{gw}/events/" + "{}"

    def topic_for(self, event: LocationEvent) -> str:
        return self._event_topic.format(event.location)

    def start(self) -> None:
        self.outbox.open()
        self.publisher.start()
        for driver in self.drivers:
            driver.start()
        log.info(
            "gateway=%s event=started readers=%d locations=%d pending=%d",
            self.config.gateway.id,
            len(self.drivers),
            len(self.config.locations),
            self.outbox.pending_count(),
        )

    def request_stop(self) -> None:
        self._stop.set()
        self._reads.put([])  # wake the main loop now, also when called from a signal handler

    def run(self) -> None:
        """Start, loop until ``request_stop()``, then shut down cleanly."""
        self.start()
        try:
            while not self._stop.is_set():
                self.step(_TICK_S)
        finally:
            self.shutdown()

    def step(self, wait: float) -> None:
        """One turn of the main loop: take reads, run the pipeline, store events, deliver."""
        batches = []
        try:
            batches.append(self._reads.get(timeout=wait))
            while True:
                batches.append(self._reads.get_nowait())
        except queue.Empty:
            pass
        now = self.clock()
        events = self.pipeline.process((read for batch in batches for read in batch), now)
        self._store(events)
        self._deliver()

    def shutdown(self, flush_timeout: float = 5.0) -> None:
        log.info("gateway=%s event=stopping", self.config.gateway.id)
        for driver in self.drivers:
            driver.stop()
        self.step(0)  # what the readers handed over before stopping
        deadline = time.monotonic() + flush_timeout
        while (self._unsaved or self.publisher.in_flight()) and time.monotonic() < deadline:
            self.step(_TICK_S)
        self.publisher.stop()
        pending = self.outbox.pending_count()
        self.outbox.close()
        log.info("gateway=%s event=stopped pending=%d", self.config.gateway.id, pending)

    def _store(self, events: list[LocationEvent]) -> None:
        if self._unsaved:
            events = self._unsaved + events
            self._unsaved = []
        if not events:
            return
        try:
            self.outbox.append(events, self.topic_for)
        except OutboxError as exc:
            # Keep them in memory and try again next turn: accepted events are never dropped here.
            log.error(
                "gateway=%s event=outbox_write_failed held=%d error=%s",
                self.config.gateway.id,
                len(events),
                exc,
            )
            self._unsaved = events
            return
        for event in events:
            log.info(
                "event=%s seq=%d location=%s epc=%s reads=%d",
                event.type,
                event.seq,
                event.location,
                event.epc,
                event.reads,
            )

    def _deliver(self) -> None:
        acked, rejected = self.publisher.take_acks()
        self.outbox.acknowledge(acked)
        if rejected:
            self._cursor = min(self._cursor, min(rejected) - 1)
        if not self.publisher.connected:
            return
        room = self.config.mqtt.max_inflight - self.publisher.in_flight()
        if room <= 0:
            return
        for item in self.outbox.pending(self._cursor, room):
            self.publisher.publish(item.seq, item.topic, item.payload)
            self._cursor = item.seq

    def _on_reader_status(self, reader: str, state: str, detail: str) -> None:
        if self.reader_state.get(reader) != state:
            self.reader_state[reader] = state
            log.info("reader=%s state=%s detail=%s", reader, state, detail)
