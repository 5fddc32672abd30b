"""Prometheus metrics: what the gateway exports and how (served by ``gateway.api`` on ``metrics.listen``).

The per-read path never touches a Prometheus object: the pipeline keeps plain integer counters on
its read points, the main loop publishes them in its snapshot each turn (``gateway.ops.snapshot``), and
``GatewayCollector`` turns the latest snapshot into metric families when Prometheus scrapes: the HTTP
thread never reads a part of the gateway. Only the per-event latency histograms are observed by the
main loop as events are acknowledged.
Labels stay bounded (reader, antenna, location, type, reason), never a tag.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.ops.journal_metrics import journal_metrics
from gateway.ops.shipment_metrics import shipment_metrics
from gateway.ops.snapshot import GatewaySnapshot

SnapshotSource = Callable[[], GatewaySnapshot]

# Finer between 10 and 100 ms, where an event's latency falls under load: a p99 read from wide buckets is
# mostly interpolation.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip


def version() -> str:
    try:
        from importlib.metadata import version as dist_version

        return dist_version("dockgate")
    except Exception:  # not installed as a distribution (running from a checkout)
        return "0+unknown"


class GatewayMetrics:
    """The registry of one gateway, with the histograms the main loop observes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.publish_latency = Histogram(
            "dockgate_publish_latency_seconds",
            "Time from handing an event to the MQTT client to its PUBACK.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.read_to_publish_latency = Histogram(
            "dockgate_read_to_publish_latency_seconds",
            "Time from the read (or the decision) behind an event to its PUBACK.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def attach(self, snapshot: SnapshotSource) -> None:
        self.registry.register(GatewayCollector(snapshot))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class GatewayCollector(Collector):
    """Turns the latest snapshot into metric families at scrape time (on the HTTP thread)."""

    def __init__(self, snapshot: SnapshotSource) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        now = time.time()
        build = GaugeMetricFamily(
            "dockgate_build_info", "Build and runtime of this gateway.", labels=["version", "python", "gateway"]
        )
        build.add_metric([version(), platform.python_version(), snap.gateway], 1)
        yield build

        reads = CounterMetricFamily(
            "dockgate_reads", "Tag reads received, per reader and antenna.", labels=["reader", "antenna"]
        )
        last_read = GaugeMetricFamily(
            "dockgate_antenna_last_read_timestamp_seconds",
            "When each antenna last read a tag (Unix time); absent until its first read.",
            labels=["reader", "antenna"],
        )
        for point in snap.read_points:
            reads.add_metric([point.reader, str(point.antenna)], point.reads)
            if point.last_read:
                last_read.add_metric([point.reader, str(point.antenna)], point.last_read)
        yield reads
        yield last_read

        filtered = CounterMetricFamily(
            "dockgate_reads_filtered", "Reads that produced nothing, by reason.", labels=["reason"]
        )
        for reason, count in sorted(snap.reads_filtered.items()):
            filtered.add_metric([reason], count)
        yield filtered

        yield CounterMetricFamily("dockgate_scans", "Scans received from barcode scanners.", value=snap.scans)
        scans_dropped = CounterMetricFamily(
            "dockgate_scans_dropped",
            "Scans that produced no event, by reason (duplicate within dedupe_window, no_read_point).",
            labels=["reader", "reason"],
        )
        for (reader, reason), count in sorted(snap.scans_dropped.items()):
            scans_dropped.add_metric([reader, reason], count)
        yield scans_dropped

        events = CounterMetricFamily(
            "dockgate_events", "Events committed to the outbox, by type and location.", labels=["type", "location"]
        )
        for (kind, location), count in sorted(snap.events.items()):
            events.add_metric([kind, location], count)
        yield events

        connected = GaugeMetricFamily(
            "dockgate_reader_connected",
            "1 when the reader is connected (also while idle: dockgate_reader_idle says so).",
            labels=["reader"],
        )
        idle = GaugeMetricFamily(
            "dockgate_reader_idle",
            "1 while the reader is connected and answers but sent no tag report for no_reads_after.",
            labels=["reader"],
        )
        idle_episodes = CounterMetricFamily(
            "dockgate_reader_idle_episodes",
            "Times the reader became idle (no tag report for no_reads_after while connected).",
            labels=["reader"],
        )
        reconnects = CounterMetricFamily(
            "dockgate_reader_reconnects",
            "Times the reader connected again after losing its connection.",
            labels=["reader"],
        )
        purged = CounterMetricFamily(
            "dockgate_reader_events_purged",
            "Events the reader purged from its own buffer (impinj-iot overflow): tag reads lost on the reader.",
            labels=["reader"],
        )
        antenna_up = GaugeMetricFamily(
            "dockgate_antenna_connected",
            "1 when the reader reports the antenna connected (only antennas the reader reports on).",
            labels=["reader", "antenna"],
        )
        for reader, status in sorted(snap.readers.items()):
            state = status.get("state")
            connected.add_metric([reader], 1 if state in ("connected", "idle") else 0)
            idle.add_metric([reader], 1 if state == "idle" else 0)
            idle_episodes.add_metric([reader], snap.idle_episodes.get(reader, 0))
            reconnects.add_metric([reader], snap.reconnects.get(reader, 0))
            lost = status.get("events_purged")
            if isinstance(lost, int):  # only drivers that can know (impinj-iot) report it
                purged.add_metric([reader], lost)
            antennas = status.get("antennas")
            if isinstance(antennas, dict):
                for antenna, antenna_state in sorted(antennas.items()):
                    antenna_up.add_metric([reader, str(antenna)], 1 if antenna_state == "connected" else 0)
        yield connected
        yield idle
        yield idle_episodes
        yield reconnects
        yield purged
        yield antenna_up

        outbox = snap.outbox
        yield GaugeMetricFamily(
            "dockgate_outbox_pending_events", "Events stored and not yet acknowledged.", value=outbox.pending
        )
        yield GaugeMetricFamily(
            "dockgate_outbox_pending_bytes",
            "Payload bytes stored and not yet acknowledged.",
            value=outbox.pending_bytes,
        )
        oldest = outbox.oldest_created
        yield GaugeMetricFamily(
            "dockgate_outbox_oldest_pending_age_seconds",
            "Age of the oldest event not yet acknowledged (0 when none).",
            value=max(0.0, now - oldest) if oldest else 0.0,
        )
        dropped = CounterMetricFamily(
            "dockgate_outbox_dropped_events", "Events lost by the outbox, by reason.", labels=["reason"]
        )
        for reason in ("drop_oldest", "reject_new", "max_age", "unstored"):
            count = snap.unstored_dropped if reason == "unstored" else outbox.dropped.get(reason, 0)
            dropped.add_metric([reason], count)
        yield dropped
        yield GaugeMetricFamily(
            "dockgate_outbox_healthy",
            "0 while the outbox cannot store events (disk full, I/O error).",
            value=0 if outbox.fault else 1,
        )
        yield GaugeMetricFamily(
            "dockgate_mqtt_connected", "1 when connected to the MQTT broker.", value=1 if snap.broker.connected else 0
        )
        yield GaugeMetricFamily(
            "dockgate_tracked_tags",
            "Tags the presence tracker holds (candidates, present, static).",
            value=snap.tracked_tags,
        )
        yield GaugeMetricFamily(
            "dockgate_main_loop_last_tick_timestamp_seconds",
            "When the main loop last turned (Unix time).",
            value=snap.taken,
        )
        yield from shipment_metrics(snap)
        yield from journal_metrics(snap)
