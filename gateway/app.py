"""The gateway: readers -> pipeline -> outbox -> MQTT, driven by one main loop.

Concurrency model: one main loop owns the pipeline, the outbox and the delivery cursor. Drivers hand
batches of reads across one thread-safe queue; paho hands PUBACKs across the publisher's lock. Nothing
else crosses threads.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from drivers import ReaderDriver, create_driver
from gateway.config import Config
from gateway.core.pipeline import Pipeline
from gateway.core.scanning import ScanProcessor
from gateway.delivery.epcis import EpcisRenderer
from gateway.delivery.mqtt import MqttPublisher, backoff_delay
from gateway.delivery.outbox import Outbox
from gateway.domain.errors import ConfigError, DockgateError, OutboxError
from gateway.domain.model import LocationEvent, ReaderException, TagRead, rfc3339
from gateway.ops.metrics import GatewayMetrics, HealthServer
from gateway.ops.snapshot import BrokerFigures, GatewaySnapshot, OutboxFigures, ReadPointFigures
from gateway.ops.systemd import SystemdNotifier

log = logging.getLogger(__name__)

Clock = Callable[[], float]
_TICK_S = 0.05
_QUEUE_BATCHES = 64  # read batches waiting for the main loop, at most (a batch is one report or socket read)
_BATCHES_PER_TURN = 64  # so that one turn stays short and events go out while reads keep coming
_PUT_TIMEOUT_S = 5.0
_PRESENCE_REFRESH_S = 30.0  # how stale a present tag's last_seen may be after a crash
_PRESENCE_REFRESH_MAX = 50_000  # most recently read first


class Gateway:
    """Wires the parts together; ``run()`` is the main loop, ``request_stop()`` may come from any thread."""

    def __init__(self, config: Config, clock: Clock = time.time) -> None:
        self.config = config
        self.clock = clock
        self.pipeline = Pipeline(config)
        scans = ScanProcessor(config, self.pipeline.presence, self.pipeline.identity)
        self.scans = scans if scans.active else None  # None: no scanner, nothing to tell apart
        self.outbox = Outbox(config.outbox)
        self.publisher = MqttPublisher(config.mqtt, config.gateway.id)
        # Bounded: when the main loop falls behind, drivers wait (and TCP pushes back on the reader)
        # instead of memory growing without end.
        self._reads: queue.Queue[list[TagRead]] = queue.Queue(maxsize=_QUEUE_BATCHES)
        self.backpressure_dropped = 0  # reads dropped after a driver waited _put_timeout in vain
        self._put_timeout = _PUT_TIMEOUT_S
        self._backpressure_logged = 0.0
        self.publisher.on_ack = self._wake  # PUBACKs wake the main loop: drains fast
        self._statuses: queue.SimpleQueue[tuple[str, str, str, float, dict[str, Any] | None]] = queue.SimpleQueue()
        self.reader_status: dict[str, dict[str, Any]] = {}  # reader -> the retained status payload
        self._door_exceptions: queue.SimpleQueue[ReaderException] = queue.SimpleQueue()  # e.g. GPI no_read
        self._was_connected = False
        self._stop_requested = ""  # why the loop should stop; a plain attribute: safe to set from a signal handler
        self._cursor = 0  # highest seq handed to the publisher
        self._presence_restored = False
        self._presence_saved_at = time.monotonic()
        self._refused_from = 0  # lowest seq the broker refused, waiting for its retry time
        self._retry_refused_at = 0.0
        self._refusals = 0
        self._unsaved: list[LocationEvent] = []  # events the outbox could not store yet
        self.outbox_fault: str | None = None  # why the outbox cannot store events right now
        self._fault_logged_at = -1e9
        self._outbox_retry_at = 0.0
        self._expire_at = 0.0
        self.unstored_dropped = 0  # events lost because the outbox was failing and memory was full too
        # EPCIS: each event's document is stored in the event's own outbox row (so it uses no seq of its own)
        # and published right after the event under the key -seq; the row is acknowledged once both have
        # their PUBACK (_rows_done). A crash in between sends both again: duplicates, never a loss.
        self.epcis = EpcisRenderer(config, clock) if config.mqtt.epcis else None
        self._awaiting: dict[int, set[int]] = {}  # seq -> keys still without PUBACK, rows with EPCIS only
        # what ops see: metrics, health, systemd
        self.metrics = GatewayMetrics()
        self.events_by_type: Counter[tuple[str, str]] = Counter()
        self.reader_reconnects: Counter[str] = Counter()
        self._ever_connected: set[str] = set()
        self.last_tick = time.time()
        self.oldest_pending_created: float | None = None
        self._detected: dict[int, float] = {}  # seq -> when the read behind it arrived, for latency
        self._published: dict[int, tuple[float, float]] = {}  # seq -> (handed to MQTT, detected)
        self.started = False
        self.systemd = SystemdNotifier()
        self.health: HealthServer | None = None
        self.drivers: list[ReaderDriver] = [self._make_driver(settings) for settings in config.readers]
        self.reload_from: Callable[[], Config] | None = None  # set by the CLI: loads the config file again
        self._reload_requested = False
        mqtt = config.mqtt
        self._event_topic = mqtt.topics.events
        self._reader_topic = mqtt.topics.reader_status
        self._topic_fields = {"prefix": mqtt.topic_prefix, "gateway": config.gateway.id}
        for settings in config.readers:
            self.reader_status[settings.name] = {"state": "disconnected", "since": rfc3339(clock()), "detail": ""}
        self._read_taps: list[Callable[[list[TagRead]], None]] = []
        self.snapshot = GatewaySnapshot(gateway=config.gateway.id)
        self.metrics.attach(self)  # last: the collector reads the attributes above

    def tap_reads(self, callback: Callable[[list[TagRead]], None]) -> None:
        """``callback(batch)`` on the main loop for every batch of tag reads, before the pipeline (the demo
        watches reads this way). Must be quick and must not raise."""
        self._read_taps.append(callback)

    def topic_for(self, event: LocationEvent) -> str:
        return self._event_topic.format(location=event.location, type=event.type, **self._topic_fields)

    def reader_topic(self, reader: str) -> str:
        return self._reader_topic.format(reader=reader, **self._topic_fields)

    def start(self) -> None:
        listen = self.config.metrics.listen
        if listen is not None and self.health is None:
            host, _, port = listen.rpartition(":")
            try:
                self.health = HealthServer(self, host.strip("[]") or "0.0.0.0", int(port))
            except OSError as exc:
                log.error("metrics=%s event=listen_failed error=%s detail=metrics and health are off", listen, exc)
            else:
                self.health.start()
                log.info("metrics=http://%s:%d/metrics event=listening", host, self.health.port)
        self._open_outbox()
        self.publisher.start()
        for driver in self.drivers:
            driver.start()
        self.started = True
        log.info(
            "gateway=%s event=started readers=%d locations=%d pending=%d",
            self.config.gateway.id,
            len(self.drivers),
            len(self.config.locations),
            self.outbox.pending_count(),
        )

    def _make_driver(self, settings: Any) -> ReaderDriver:
        driver = create_driver(settings, self._hand_over, self._on_reader_status)
        driver.on_exception = self._door_exceptions.put
        return driver

    def request_reload(self) -> None:
        """From a signal handler (SIGHUP): the main loop reloads the config at its next turn (within one
        tick). Only a flag is set: a signal handler runs on the main thread between two bytecodes, maybe
        while it holds the read queue's lock, and taking that lock here would deadlock."""
        self._reload_requested = True

    def _reload(self) -> None:
        self._reload_requested = False
        log.info("gateway=%s event=reload_requested", self.config.gateway.id)
        if self.reload_from is None:
            return
        try:
            new = self.reload_from()
        except ConfigError as exc:
            log.error(
                "event=reload_refused problems=%d detail=the running config stays in force\n%s",
                len(exc.problems),
                "\n".join(exc.problems),
            )
            return
        self.apply_config(new)

    def apply_config(self, new: Config) -> None:
        """Live reload: changed readers reconnect, unchanged ones keep reading; presence at unchanged
        locations and the outbox are kept. gateway.id, outbox and metrics need a restart."""
        old = self.config
        kept = [name for name in ("gateway", "outbox", "metrics") if getattr(new, name) != getattr(old, name)]
        if kept:
            log.warning("event=reload_needs_restart sections=%s detail=these keep their running values", ",".join(kept))
            new = new.model_copy(update={name: getattr(old, name) for name in kept})
        old_readers = {r.name: r for r in old.readers}
        new_readers = {r.name: r for r in new.readers}
        drivers = {d.name: d for d in self.drivers}
        changed = {n for n in old_readers if new_readers.get(n) != old_readers[n]}
        for name in sorted(changed):
            drivers.pop(name).stop()
            if name not in new_readers:
                self.reader_status.pop(name, None)
            else:  # its new driver reports connecting / connected from here
                self._statuses.put((name, "disconnected", "config reloaded", self.clock(), None))
        for name, settings in new_readers.items():
            if name not in drivers:
                drivers[name] = self._make_driver(settings)
                self.reader_status.setdefault(
                    name, {"state": "disconnected", "since": rfc3339(self.clock()), "detail": ""}
                )
                drivers[name].start()
        self.drivers = [drivers[r.name] for r in new.readers]
        old_locations = {loc.name: loc for loc in old.locations}
        unchanged = {
            loc.name
            for loc in new.locations
            if old_locations.get(loc.name) == loc
            and all(old_readers.get(p.reader) == new_readers.get(p.reader) for p in loc.read_points)
        }
        pipeline = Pipeline(new, identity=self.pipeline.identity)
        pipeline.adopt(self.pipeline, unchanged)
        self.pipeline = pipeline
        if self.outbox.is_open:
            self.outbox.forget_presence(unchanged)
        if new.mqtt != old.mqtt:
            try:
                publisher = MqttPublisher(new.mqtt, new.gateway.id)  # first: a bad password file must not
            except DockgateError as exc:  # leave us without a connection
                log.error("event=reload_refused section=mqtt error=%s detail=the running MQTT settings stay", exc)
                new = new.model_copy(update={"mqtt": old.mqtt})
            else:
                self.publisher.stop(timeout=2.0)
                self.publisher = publisher
                self.publisher.on_ack = self._wake
            self._cursor = 0  # what the old connection had in flight is sent again from the outbox
            self._published.clear()
            self._was_connected = False
            self.publisher.start()
        self.config = new
        mqtt = new.mqtt
        self._event_topic = mqtt.topics.events
        self._reader_topic = mqtt.topics.reader_status
        log.warning(
            "event=reloaded readers_restarted=%s locations_kept=%s mqtt_reconnected=%s",
            ",".join(sorted(changed | (set(new_readers) - set(old_readers)))) or "-",
            ",".join(sorted(unchanged)) or "-",
            new.mqtt != old.mqtt,
        )

    def request_stop(self, reason: str = "requested", from_signal: bool = False) -> None:
        """Stop the main loop. From another thread, it wakes the loop at once; from a signal handler it
        only sets a flag (see ``request_reload``), and the loop notices within one tick."""
        self._stop_requested = reason
        if not from_signal:
            self._wake()

    def run(self) -> None:
        """Start, loop until ``request_stop()``, then shut down cleanly."""
        self.start()
        self.systemd.ready(f"{len(self.drivers)} reader(s), {len(self.config.locations)} location(s)")
        try:
            while not self._stop_requested:
                self.step(_TICK_S)
            log.info("gateway=%s event=stop_requested reason=%s", self.config.gateway.id, self._stop_requested)
        finally:
            self.shutdown()

    def _wake(self) -> None:
        """Make the main loop turn now (never blocks: a full queue will wake it anyway)."""
        with contextlib.suppress(queue.Full):
            self._reads.put_nowait([])

    def _hand_over(self, reads: list[TagRead]) -> None:
        """Drivers' threads hand their reads over here; waits while the main loop is behind."""
        try:
            self._reads.put(reads, timeout=self._put_timeout)
        except queue.Full:
            self.backpressure_dropped += len(reads)
            now = time.monotonic()
            if now - self._backpressure_logged >= 10:
                self._backpressure_logged = now
                log.error(
                    "event=reads_dropped reason=backpressure count=%d total=%d detail=the main loop is %.0fs+ behind",
                    len(reads),
                    self.backpressure_dropped,
                    self._put_timeout,
                )

    def step(self, wait: float) -> None:
        """One turn of the main loop: take reads, run the pipeline, store events, deliver."""
        batches = []
        try:
            batches.append(self._reads.get(timeout=wait))
            while len(batches) < _BATCHES_PER_TURN:
                batches.append(self._reads.get_nowait())
        except queue.Empty:
            pass
        if self._reload_requested:
            self._reload()
        now = self.clock()
        if not self._reads.empty():
            # Behind: judge time by the reads, not the wall clock, or candidates would be forgotten and
            # tags departed before their queued reads are seen.
            newest = max((batch[-1].time for batch in batches if batch), default=now)
            now = min(now, newest)
        self.last_tick = time.time()
        self.systemd.tick()
        scan_batches: list[list[TagRead]] = []
        if self.scans is not None:  # scanners share the reads queue; their batches are told apart per batch
            batches, scan_batches = self.scans.split(batches)
        for tap in self._read_taps:
            for batch in batches:
                tap(batch)
        events = self.pipeline.process((read for batch in batches for read in batch), now)
        if self.scans is not None:
            events += self.scans.process(scan_batches, events, now)
        events += self._exception_events(now)
        if not self.outbox.is_open and time.monotonic() >= self._outbox_retry_at:
            self._open_outbox()
        self._store(events)
        self._update_reader_status()
        if self.outbox.is_open:
            if time.monotonic() - self._presence_saved_at >= _PRESENCE_REFRESH_S:
                self._presence_saved_at = time.monotonic()
                self._save_presence()
            if now >= self._expire_at:
                self._expire_at = now + 1.0
                self.outbox.expire(now, protect_through=self._cursor)
                self.oldest_pending_created = self.outbox.oldest_created()
            self._deliver()
        self.snapshot = self._take_snapshot()

    def _take_snapshot(self) -> GatewaySnapshot:
        outbox, publisher, pipeline = self.outbox, self.publisher, self.pipeline
        points = [
            ReadPointFigures(reader, antenna, point.location.name, point.reads, point.last_read)
            for (reader, antenna), point in pipeline.read_points.points.items()
        ]
        points += [ReadPointFigures(r, a, None, n, 0.0) for (r, a), n in pipeline.unmapped.items()]
        return GatewaySnapshot(
            gateway=self.config.gateway.id,
            taken=self.last_tick,
            started=self.started,
            read_points=tuple(sorted(points, key=lambda p: (p.reader, p.antenna))),
            reads_filtered={**pipeline.dropped, "backpressure": self.backpressure_dropped},
            events=dict(self.events_by_type),
            readers={name: dict(status) for name, status in self.reader_status.items()},
            reconnects=dict(self.reader_reconnects),
            tracked_tags=pipeline.presence.tracked_count,
            present_tags=pipeline.presence.present_count,
            outbox=OutboxFigures(
                pending=outbox.pending_count(),
                pending_bytes=outbox.pending_bytes,
                oldest_created=self.oldest_pending_created,
                last_seq=outbox.last_seq,
                added=outbox.added,
                acknowledged=outbox.acknowledged,
                dropped=dict(outbox.dropped),
                fault=self.outbox_fault,
                is_open=outbox.is_open,
            ),
            broker=BrokerFigures(publisher.where, publisher.connected, publisher.in_flight(), publisher.last_error),
            unstored_dropped=self.unstored_dropped,
        )

    def shutdown(self, flush_timeout: float = 3.0) -> None:
        """Stop readers, store what they handed over, give in-flight events a moment for their PUBACK,
        publish offline, close. Bounded: well within 10 s even with the broker away."""
        log.info("gateway=%s event=stopping", self.config.gateway.id)
        self.systemd.stopping()
        self._put_timeout = 0.5  # a driver blocked on a full queue must not hold up its own stop
        for driver in self.drivers:
            driver.stop()
        while not self._reads.empty():  # what the readers handed over before stopping
            self.step(0)
        self.step(0)
        deadline = time.monotonic() + flush_timeout
        while self.publisher.connected and self.publisher.in_flight() and time.monotonic() < deadline:
            self.step(_TICK_S)
        self.publisher.stop(timeout=2.0)
        self._save_presence()
        if self.health is not None:
            self.health.stop()
        if self.outbox.is_open:
            self.outbox.acknowledge(self._rows_done(self.publisher.take_acks()[0]))  # PUBACKs of the last turns
        pending = self.outbox.pending_count()
        self.outbox.close()
        if self._unsaved:
            log.critical(
                "gateway=%s event=stopped_with_unstored_events count=%d detail=the outbox could not store them",
                self.config.gateway.id,
                len(self._unsaved),
            )
        log.info("gateway=%s event=stopped pending=%d", self.config.gateway.id, pending)

    def readiness_problems(self) -> list[str]:
        """Empty when ready: config loaded (it is, or we would not be here), outbox writable, readers started."""
        problems = []
        if not self.outbox.is_open:
            problems.append("outbox not open")
        if self.outbox_fault:
            problems.append(f"outbox failing: {self.outbox_fault}")
        if not self.started:
            problems.append("readers not started")
        return problems

    def _open_outbox(self) -> None:
        try:
            self.outbox.open()
        except OutboxError as exc:
            self._outbox_retry_at = time.monotonic() + 5.0
            self._outbox_failing(exc)
            return
        if self._presence_restored:
            return
        self._presence_restored = True
        locations = {loc.name for loc in self.config.locations}
        rows = [row for row in self.outbox.load_presence() if row[0] in locations]
        if rows:
            restored = self.pipeline.presence.restore(rows)
            log.info("gateway=%s event=presence_restored tags=%d", self.config.gateway.id, restored)

    def _save_presence(self) -> None:
        """Refresh last_seen and counts of present tags in the outbox (which of them are present is
        already kept there, with the events)."""
        if self.outbox.is_open:
            self.outbox.refresh_presence(self.pipeline.presence.snapshot(_PRESENCE_REFRESH_MAX))

    def _outbox_failing(self, exc: OutboxError) -> None:
        """Alarm loudly on the first failure, then once a minute while it lasts; the gateway goes on."""
        first = self.outbox_fault is None
        self.outbox_fault = str(exc)
        if first or time.monotonic() - self._fault_logged_at >= 60:
            self._fault_logged_at = time.monotonic()
            log.critical(
                "gateway=%s event=outbox_failing held_in_memory=%d error=%s detail=events are kept in memory "
                "and stored when the outbox works again (disk full? check free space)",
                self.config.gateway.id,
                len(self._unsaved),
                exc,
            )

    def _store(self, events: list[LocationEvent]) -> None:
        if self._unsaved:
            events = self._unsaved + events
            self._unsaved = []
        if not events:
            return
        try:
            if not self.outbox.is_open:
                raise OutboxError(self.outbox_fault or "outbox is not open")
            self.outbox.append(events, self.topic_for, protect_through=self._cursor, epcis_of=self.epcis)
        except OutboxError as exc:
            # Keep them in memory and try again next turn, up to the outbox's own event limit.
            limit = self.config.outbox.max_events
            if len(events) > limit:
                lost = len(events) - limit
                self.unstored_dropped += lost
                log.critical("gateway=%s event=unstored_events_dropped count=%d", self.config.gateway.id, lost)
                events = events[lost:]
            self._unsaved = events
            if self.outbox.is_open or self.outbox_fault is None:
                self._outbox_failing(exc)
            return
        if self.outbox_fault is not None:
            log.warning("gateway=%s event=outbox_recovered stored=%d", self.config.gateway.id, len(events))
            self.outbox_fault = None
        now = self.clock()
        if len(self._detected) >= 100_000:  # events dropped by retention were never published: forget them
            self._detected = {seq: t for seq, t in self._detected.items() if seq > self._cursor}
        record = len(self._detected) < 100_000  # bounded while the broker is away
        for event in events:
            self.events_by_type[(event.type, event.location)] += 1
            if record:
                self._detected[event.seq] = event.time if event.type == "arrived" else now
        for event in events:
            log.info(
                "event=%s seq=%d location=%s epc=%s reads=%d",
                event.type,
                event.seq,
                event.location,
                event.epc,
                event.reads,
            )
        for event in events:
            for driver in self.drivers:
                driver.on_event(event)  # outputs at the door (GPO); never blocks

    def _deliver(self) -> None:
        acked, rejected = self.publisher.take_acks()
        self.outbox.acknowledge(self._rows_done(acked))
        if acked:
            now = self.clock()
            for seq in acked:
                sent = self._published.pop(seq, None)
                if sent is not None:
                    self.metrics.publish_latency.observe(max(0.0, now - sent[0]))
                    self.metrics.read_to_publish_latency.observe(max(0.0, now - sent[1]))
        if rejected:
            # The broker refused them (an ACL, a quota): send them again later, with backoff, not every turn.
            self._refused_from = min(self._refused_from or self._cursor, min(abs(key) for key in rejected))
            self._refusals += 1
            self._retry_refused_at = time.monotonic() + backoff_delay(
                self._refusals, self.config.mqtt.reconnect_delay_max, base=1.0
            )
        if self._refused_from and time.monotonic() >= self._retry_refused_at and not self.publisher.in_flight():
            self._cursor = min(self._cursor, self._refused_from - 1)
            self._refused_from = 0
        elif not rejected and acked:
            self._refusals = 0
        if not self.publisher.connected:
            return
        room = self.config.mqtt.max_inflight - self.publisher.in_flight()
        if room <= 0:
            return
        now = self.clock()
        for item in self.outbox.pending(self._cursor, room if self.epcis is None else max(1, room // 2)):
            self.publisher.publish(item.seq, item.topic, item.payload)
            if item.epcis_topic is not None and item.epcis_payload is not None:
                self._awaiting[item.seq] = {item.seq, -item.seq}
                self.publisher.publish(-item.seq, item.epcis_topic, item.epcis_payload)
            self._cursor = item.seq
            detected = self._detected.pop(item.seq, None)
            if detected is not None:
                self._published[item.seq] = (now, detected)

    def _rows_done(self, keys: list[int]) -> list[int]:
        """Seqs of the rows whose every message has its PUBACK (an event's key is seq, its EPCIS document's -seq)."""
        done = []
        for key in keys:
            seq = abs(key)
            waiting = self._awaiting.get(seq)
            if waiting is None:
                if key > 0:  # a row without EPCIS (a late PUBACK of a finished row's document needs nothing)
                    done.append(seq)
                continue
            waiting.discard(key)
            if not waiting:
                del self._awaiting[seq]
                done.append(seq)
        return done

    def _on_reader_status(self, reader: str, state: str, detail: str, extra: dict[str, Any] | None = None) -> None:
        """From driver threads: hand the change to the main loop."""
        self._statuses.put((reader, state, detail, self.clock(), extra))

    def _exception_events(self, now: float) -> list[LocationEvent]:
        """Door exceptions from drivers (a GPI window without a tag read) as ``exception`` events."""
        out: list[LocationEvent] = []
        while True:
            try:
                exc = self._door_exceptions.get_nowait()
            except queue.Empty:
                return out
            location = exc.location or next(
                (loc.name for loc in self.config.locations for p in loc.read_points if p.reader == exc.reader), ""
            )
            log.warning("event=exception reason=%s location=%s reader=%s", exc.reason, location, exc.reader)
            out.append(
                LocationEvent(
                    type="exception",
                    time=now,
                    gateway=self.config.gateway.id,
                    location=location,
                    reader=exc.reader,
                    epc="",
                    antennas=[],
                    reads=0,
                    rssi_max=None,
                    first_seen=exc.extra.get("window_start", now),
                    last_seen=now,
                    reason=exc.reason,
                    extra={"epc": None, **{k: v for k, v in exc.extra.items() if k != "window_start"}},
                )
            )

    def _update_reader_status(self) -> None:
        """Record reader state changes and publish them retained, only on change (and again after a
        reconnect, in case the broker lost its retained messages)."""
        changed: set[str] = set()
        while True:
            try:
                reader, state, detail, when, extra = self._statuses.get_nowait()
            except queue.Empty:
                break
            status = self.reader_status.get(reader)
            if status is None:  # a reader removed by a reload, saying its last words
                continue
            if extra is not None and any(status.get(k) != v for k, v in extra.items()):
                status.update(extra)  # per-antenna and GPI state (LLRP)
                changed.add(reader)
            if status["state"] != state:
                status["state"], status["since"] = state, rfc3339(when)
                status["detail"] = detail
                changed.add(reader)
                log.info("reader=%s state=%s detail=%s", reader, state, detail)
                if state == "connected":
                    if reader in self._ever_connected:
                        self.reader_reconnects[reader] += 1
                    self._ever_connected.add(reader)
        connected = self.publisher.connected
        if connected and not self._was_connected:
            changed = set(self.reader_status)
        self._was_connected = connected
        if connected:
            for reader in sorted(changed):
                payload = json.dumps({"reader": reader, **self.reader_status[reader]}).encode()
                self.publisher.publish_retained(self.reader_topic(reader), payload)
