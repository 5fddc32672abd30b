"""The gateway: wires the parts and runs the main loop's turn.

    drivers --(ReadIngress)--> Flow (pipeline, scans) --> Storage (outbox) --> Dispatcher --> MqttPublisher
       ^                           |                         |                    |
       +-- DoorSignals (GPI exceptions in, GPO outputs out)  |     ReaderBoard (retained reader status)
                                                     GatewaySnapshot --> metrics, health, demo

One main loop owns every part. Drivers' threads hand reads to ``ReadIngress`` and status changes to
``ReaderBoard.report``; paho's thread hands PUBACKs to the publisher, which wakes the loop; signal
handlers only set flags. Other threads read ``Gateway.snapshot``, replaced as a whole every turn.

Each part owns its state: ``core.ingress`` (hand-over, backpressure), ``core.flow`` (reads to events),
``core.actors`` (who is signed in), ``delivery.storage`` (outbox and what it could not store yet),
``delivery.dispatcher`` (in flight, refusals, latency), ``core.readers``, ``core.doors``. A reload
builds the parts anew from the new config (``gateway.reload``); the commands it journals wait in
``_commands`` for the next turn.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from drivers import ReaderDriver, create_driver
from gateway.api.auth import revocations_beside
from gateway.api.server import ApiServer
from gateway.config import Config
from gateway.core.actors import ActorDesk
from gateway.core.doors import DoorSignals
from gateway.core.flow import Flow
from gateway.core.ingress import ReadIngress
from gateway.core.owners import Owners
from gateway.core.pipeline import Pipeline
from gateway.core.readers import ReaderBoard
from gateway.delivery.dispatcher import Dispatcher, Latency
from gateway.delivery.epcis import EpcisRenderer
from gateway.delivery.mqtt import MqttPublisher
from gateway.delivery.outbox import Outbox
from gateway.delivery.storage import Storage
from gateway.delivery.topics import Topics
from gateway.domain.errors import ConfigError
from gateway.domain.log import get_logger
from gateway.domain.model import LocationEvent, TagRead
from gateway.journal.checkpointer import checkpointer_for
from gateway.ops.display import Display
from gateway.ops.metrics import GatewayMetrics
from gateway.ops.snapshot import GatewaySnapshot
from gateway.ops.systemd import SystemdNotifier
from gateway.reloading import apply_reload
from gateway.reports.desk import ReportDesk
from gateway.reports.report import ReportSource
from gateway.shipments.commands import CommandPort
from gateway.shipments.desk import ShipmentDesk
from gateway.snapshotting import take_snapshot

log = get_logger(__name__)

Clock = Callable[[], float]
_TICK_S = 0.05
_PRESENCE_SAVE_MAX = 50_000  # present tags whose last_seen is refreshed in the outbox, most recently read first


class Gateway:
    """``run()`` is the main loop; ``request_stop()`` and ``request_reload()`` may come from any thread or a
    signal handler."""

    def __init__(self, config: Config, clock: Clock = time.time) -> None:
        self.config = config
        self.clock = clock
        self.ingress = ReadIngress()
        self.flow = Flow(config)
        self.topics = Topics(config.mqtt, config.gateway.id)
        self.shipments = ShipmentDesk(config, self.ingress.wake, self._reply, self.topics.shipment_replies)
        self.epcis = self._epcis(config, self.topics)
        self.metrics = GatewayMetrics()
        self.storage = Storage(
            Outbox(config.outbox, config.journal.enabled), config.gateway.id, checkpointer_for(config)
        )
        self.reports = ReportDesk(config, self.outbox.reports)
        self.publisher = self._publisher(config, self.topics)
        self.dispatcher = self._dispatcher(config, self.publisher)
        self.readers = ReaderBoard((r.name for r in config.readers), clock)
        self.doors = DoorSignals()
        self.drivers: list[ReaderDriver] = [self._make_driver(settings) for settings in config.readers]
        self.events_stored: Counter[tuple[str, str]] = Counter()  # (type, location) -> events committed
        self.systemd = SystemdNotifier()
        self.health: ApiServer | None = None
        self.started = False
        self.reload_from: Callable[[], Config] | None = None  # set by the CLI: loads the config file again
        self._reload_requested = False
        self._stop_requested = ""  # why the loop should stop; a plain attribute: safe to set from a signal handler
        self._read_taps: list[Callable[[list[TagRead]], None]] = []
        self._commands: list[LocationEvent] = []
        self.actors = ActorDesk(config)
        self.owners = Owners(config.owners)
        self.display = Display(config, self.owners)
        self.snapshot = GatewaySnapshot(gateway=config.gateway.id, taken=time.time())
        self.metrics.attach(lambda: self.snapshot)

    # ---- parts built from a config ------------------------------------------------------------------

    def _publisher(self, config: Config, topics: Topics) -> MqttPublisher:
        publisher = MqttPublisher(config.mqtt, config.gateway.id, topics.status)
        publisher.on_ack = self.ingress.wake  # PUBACKs wake the main loop: drains fast
        if config.shipments.command_topic:
            publisher.subscribe(topics.shipment_commands, self.shipments.mqtt.on_message)
        return publisher

    def _epcis(self, config: Config, topics: Topics) -> EpcisRenderer | None:
        if not config.mqtt.epcis:
            return None
        return EpcisRenderer(config, topics, self.clock, self.shipments.book.biz_transaction)

    def _dispatcher(self, config: Config, publisher: MqttPublisher) -> Dispatcher:
        latency = Latency(self.metrics.publish_latency, self.metrics.read_to_publish_latency)
        mqtt = config.mqtt
        owner_topic = (lambda payload: self.topics.owner_event_of(payload)) if mqtt.owner_topics else None
        return Dispatcher(publisher, mqtt.max_inflight, mqtt.reconnect_delay_max, latency, mqtt.epcis, owner_topic)

    def _make_driver(self, settings: Any) -> ReaderDriver:  # one of the registry's settings models
        driver = create_driver(settings, self.ingress.hand_over, self.readers.report)
        driver.on_exception = self.doors.raise_exception
        return driver

    @property
    def commands(self) -> CommandPort:
        """Where the HTTP API and the demo hand shipment commands over."""
        return self.shipments.commands

    @property
    def outbox(self) -> Outbox:
        return self.storage.outbox

    @property
    def pipeline(self) -> Pipeline:
        return self.flow.pipeline

    def tap_reads(self, callback: Callable[[list[TagRead]], None]) -> None:
        """``callback(batch)`` on the main loop for every batch of tag reads, before the pipeline (the demo
        watches reads this way). Must be quick and must not raise."""
        self._read_taps.append(callback)

    # ---- life cycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        listen = self.config.metrics.listen
        if listen is not None and self.health is None:
            host, _, port = listen.rpartition(":")
            try:
                self.health = ApiServer(
                    host.strip("[]") or "0.0.0.0",
                    int(port),
                    lambda: self.snapshot,
                    self.metrics.render,
                    self.commands,
                    self.config.api,
                    registry=self.metrics.registry,
                    owners=self.config.owners,
                    reports=ReportSource.of(self.config),
                    revocations=revocations_beside(self.config.outbox.path),  # logouts hold across restarts
                )
            except OSError as exc:
                log.error("listen_failed", metrics=listen, error=str(exc), detail="metrics and health are off")
            else:
                self.health.start()
                log.info("listening", metrics=f"http://{host}:{self.health.port}/metrics")
        self._open_outbox()
        self.publisher.start()
        for driver in self.drivers:
            driver.start()
        self.started = True
        log.info(
            "started",
            gateway=self.config.gateway.id,
            readers=len(self.drivers),
            locations=len(self.config.locations),
            pending=self.outbox.pending_count(),
        )

    def request_reload(self) -> None:
        """From a signal handler (SIGHUP): the main loop reloads the config at its next turn (within one
        tick). Only a flag is set: a signal handler runs on the main thread between two bytecodes, maybe
        while it holds a lock, and taking that lock here would deadlock."""
        self._reload_requested = True

    def request_stop(self, reason: str = "requested", from_signal: bool = False) -> None:
        """Stop the main loop. From another thread, it wakes the loop at once; from a signal handler it
        only sets a flag (see ``request_reload``), and the loop notices within one tick."""
        self._stop_requested = reason
        if not from_signal:
            self.ingress.wake()

    def run(self) -> None:
        """Start, loop until ``request_stop()``, then shut down cleanly."""
        self.start()
        self.systemd.ready(f"{len(self.drivers)} reader(s), {len(self.config.locations)} location(s)")
        try:
            while not self._stop_requested:
                self.step(_TICK_S)
            log.info("stop_requested", gateway=self.config.gateway.id, reason=self._stop_requested)
        finally:
            self.shutdown()

    def shutdown(self, flush_timeout: float = 3.0) -> None:
        """Stop readers, store what they handed over, give in-flight events a moment for their PUBACK,
        publish offline, close. Bounded: well within 10 s even with the broker away."""
        log.info("stopping", gateway=self.config.gateway.id)
        self.systemd.stopping()
        self.ingress.put_timeout = 0.5  # a driver blocked on a full hand-over must not hold up its own stop
        for driver in self.drivers:
            driver.stop()
        while self.ingress.behind:  # what the readers handed over before stopping
            self.step(0)
        self.step(0)
        deadline = time.monotonic() + flush_timeout
        while self.publisher.connected and self.dispatcher.in_flight and time.monotonic() < deadline:
            self.step(_TICK_S)
        self.publisher.stop(timeout=2.0)
        self.storage.save_presence(self.flow.pipeline.presence.snapshot(_PRESENCE_SAVE_MAX))
        if self.health is not None:
            self.health.stop()
        self.dispatcher.finish(self.outbox, self.clock())  # PUBACKs of the last turns
        self.reports.close(self.clock())
        self.storage.close()

    # ---- the turn -------------------------------------------------------------------------------------

    def step(self, wait: float) -> None:
        """One turn of the main loop: take reads, run the pipeline, store events, deliver, publish a snapshot."""
        batches = self.ingress.take(wait)
        if self._reload_requested:
            self._reload()
        now = self.clock()
        if self.ingress.behind:
            # Behind: judge time by the reads, not the wall clock, or candidates would be forgotten and
            # tags departed before their queued reads are seen.
            newest = max((batch[-1].time for batch in batches if batch), default=now)
            now = min(now, newest)
        self.systemd.tick()
        for tap in self._read_taps:
            for batch in batches:
                tap(batch)
        events = self.flow.process(batches, now)
        if self._commands:
            events[:0], self._commands = self._commands, []
        events += self.doors.exception_events(self.config, now)
        events = self.actors.process(events, now)  # before the shipments: an actor's badge is no item
        self._open_outbox()
        desk = self.shipments
        fault = self.storage.fault or (None if self.outbox.is_open else "outbox not open")
        answers = desk.take_commands(now, events, fault)
        made = desk.check(events, now)
        self.actors.attribute(made, now)
        events += made
        events += self.reports.turn(now, self.readers.status)
        self.owners.assign(events, desk.book.expected_of)
        dispatcher = self.dispatcher
        stored = self.storage.store(events, self.topic_for, self.epcis, dispatcher.cursor, desk.book.take_dirty())
        for pending, reply in answers:  # after the commit: accepted means durable
            pending.answer(reply)
        if stored:
            self._stored(stored)
            self.display.stored(self.outbox.appended)
        self.readers.update(self.publisher.connected, self._publish_status)
        publisher = self.publisher
        desk.show(now, publisher.connects, publisher.connected, self._publish_door, self.drivers)
        presence = self.flow.pipeline.presence
        self.storage.housekeeping(now, dispatcher.cursor, lambda: presence.snapshot(_PRESENCE_SAVE_MAX))
        if self.outbox.is_open:
            dispatcher.turn(self.outbox, now)
        self.storage.checkpoint(now, publisher.connects, self._publish_checkpoint if publisher.connected else None)
        publish = self._publish_present if publisher.connected else None
        self.display.turn(now, events, self.flow.pipeline, publisher.connects, publish)
        self.snapshot = take_snapshot(self)

    def _publish_checkpoint(self, payload: bytes) -> None:
        self.publisher.publish(self.topics.journal_checkpoint, payload, retain=True)

    def _publish_present(self, location: str, payload: bytes) -> None:
        self.publisher.publish(self.topics.present(location), payload, retain=True)

    def _publish_door(self, location: str, payload: bytes) -> None:
        self.publisher.publish(self.topics.door_status(location), payload, retain=True)

    def _reply(self, topic: str, payload: bytes, correlation: bytes | None) -> None:
        self.publisher.reply(topic, payload, correlation)

    def topic_for(self, event: LocationEvent) -> str:
        return self.topics.event(event.location, event.type)

    def _publish_status(self, reader: str, payload: bytes) -> None:
        self.publisher.publish(self.topics.reader_status(reader), payload, retain=True)

    def _open_outbox(self) -> None:
        if not self.storage.open():
            return
        locations = {loc.name for loc in self.config.locations}  # first open: who was present before a restart
        rows = [row for row in self.outbox.presence.load() if row.location in locations]
        if rows:
            restored = self.flow.pipeline.presence.restore(rows)
            log.info("presence_restored", tags=restored, gateway=self.config.gateway.id)
        self._commands += self.actors.restore(self.outbox.actors.load(), self.flow.pipeline, self.clock())
        shipments = self.outbox.shipments.load()
        if shipments:
            still_open = self.shipments.book.restore(shipments)
            log.info("shipments_restored", shipments=len(shipments), open=still_open, gateway=self.config.gateway.id)

    def _stored(self, events: list[LocationEvent]) -> None:
        self.dispatcher.stored(events, self.clock())
        counts = self.events_stored
        for event in events:
            counts[(event.type, event.location)] += 1
            log.info(
                "stored", type=event.type, seq=event.seq, location=event.location, epc=event.epc, reads=event.reads
            )
        self.doors.signal(events, self.drivers)

    # ---- reload ---------------------------------------------------------------------------------------

    def _reload(self) -> None:
        self._reload_requested = False
        log.info("reload_requested", gateway=self.config.gateway.id)
        if self.reload_from is None:
            return
        try:
            new = self.reload_from()
        except ConfigError as exc:
            log.error(
                "reload_refused",
                problems=len(exc.problems),
                errors="; ".join(exc.problems),
                detail="the running config stays in force",
            )
            return
        self.apply_config(new)

    def apply_config(self, new: Config, source: str = "signal") -> None:
        """Live reload (gateway.reloading): every part built anew from ``new``, what survives handed over."""
        apply_reload(self, new, source)
