"""Prometheus metrics, /healthz and /readyz, served over HTTP on ``metrics.listen``.

The per-read path never touches a Prometheus object: the pipeline keeps plain integer counters on
its read points, and ``GatewayCollector`` turns the gateway's state into metric families when
Prometheus scrapes. Only the per-event latency histograms are observed as events are acknowledged.
Labels stay bounded (reader, antenna, location, type, reason), never a tag.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from gateway.app import Gateway

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
HEALTHY_TICK_S = 10.0  # /healthz fails when the main loop has not turned for this long


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

    def attach(self, gateway: Gateway) -> None:
        self.registry.register(GatewayCollector(gateway))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class GatewayCollector(Collector):
    """Reads the gateway's counters and state at scrape time (from the HTTP thread; plain reads only)."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    def collect(self) -> Iterator[Metric]:
        gw = self._gateway
        now = time.time()
        build = GaugeMetricFamily(
            "dockgate_build_info", "Build and runtime of this gateway.", labels=["version", "python", "gateway"]
        )
        build.add_metric([version(), platform.python_version(), gw.config.gateway.id], 1)
        yield build

        reads = CounterMetricFamily(
            "dockgate_reads", "Tag reads received, per reader and antenna.", labels=["reader", "antenna"]
        )
        last_read = GaugeMetricFamily(
            "dockgate_antenna_last_read_timestamp_seconds",
            "When each antenna last read a tag (Unix time); absent until its first read.",
            labels=["reader", "antenna"],
        )
        for (reader, antenna), point in sorted(gw.pipeline.read_points.points.items()):
            reads.add_metric([reader, str(antenna)], point.reads)
            if point.last_read:
                last_read.add_metric([reader, str(antenna)], point.last_read)
        for (reader, antenna), count in sorted(gw.pipeline.unmapped.items()):
            reads.add_metric([reader, str(antenna)], count)
        yield reads
        yield last_read

        filtered = CounterMetricFamily(
            "dockgate_reads_filtered", "Reads that produced nothing, by reason.", labels=["reason"]
        )
        for reason, count in sorted(gw.pipeline.dropped.items()):
            filtered.add_metric([reason], count)
        filtered.add_metric(["backpressure"], gw.backpressure_dropped)
        yield filtered

        events = CounterMetricFamily(
            "dockgate_events", "Events committed to the outbox, by type and location.", labels=["type", "location"]
        )
        for (kind, location), count in sorted(gw.events_by_type.items()):
            events.add_metric([kind, location], count)
        yield events

        connected = GaugeMetricFamily(
            "dockgate_reader_connected", "1 when the reader is connected and reading.", labels=["reader"]
        )
        reconnects = CounterMetricFamily(
            "dockgate_reader_reconnects",
            "Times the reader connected again after losing its connection.",
            labels=["reader"],
        )
        antenna_up = GaugeMetricFamily(
            "dockgate_antenna_connected",
            "1 when the reader reports the antenna connected (only antennas the reader reports on).",
            labels=["reader", "antenna"],
        )
        for reader, status in sorted(gw.reader_status.items()):
            connected.add_metric([reader], 1 if status.get("state") == "connected" else 0)
            reconnects.add_metric([reader], gw.reader_reconnects.get(reader, 0))
            antennas = status.get("antennas")
            if isinstance(antennas, dict):
                for antenna, state in sorted(antennas.items()):
                    antenna_up.add_metric([reader, str(antenna)], 1 if state == "connected" else 0)
        yield connected
        yield reconnects
        yield antenna_up

        outbox = gw.outbox
        yield GaugeMetricFamily(
            "dockgate_outbox_pending_events", "Events stored and not yet acknowledged.", value=outbox.pending_count()
        )
        yield GaugeMetricFamily(
            "dockgate_outbox_pending_bytes",
            "Payload bytes stored and not yet acknowledged.",
            value=outbox.pending_bytes,
        )
        oldest = gw.oldest_pending_created
        yield GaugeMetricFamily(
            "dockgate_outbox_oldest_pending_age_seconds",
            "Age of the oldest event not yet acknowledged (0 when none).",
            value=max(0.0, now - oldest) if oldest else 0.0,
        )
        dropped = CounterMetricFamily(
            "dockgate_outbox_dropped_events", "Events lost by the outbox, by reason.", labels=["reason"]
        )
        for reason in ("drop_oldest", "reject_new", "max_age", "unstored"):
            count = gw.unstored_dropped if reason == "unstored" else outbox.dropped.get(reason, 0)
            dropped.add_metric([reason], count)
        yield dropped
        yield GaugeMetricFamily(
            "dockgate_outbox_healthy",
            "0 while the outbox cannot store events (disk full, I/O error).",
            value=0 if gw.outbox_fault else 1,
        )
        yield GaugeMetricFamily(
            "dockgate_mqtt_connected", "1 when connected to the MQTT broker.", value=1 if gw.publisher.connected else 0
        )
        yield GaugeMetricFamily(
            "dockgate_tracked_tags",
            "Tags the presence tracker holds (candidates, present, static).",
            value=gw.pipeline.presence.tracked_count,
        )
        yield GaugeMetricFamily(
            "dockgate_main_loop_last_tick_timestamp_seconds",
            "When the main loop last turned (Unix time).",
            value=gw.last_tick,
        )


class HealthServer:
    """/metrics, /healthz (the main loop is ticking) and /readyz (config loaded, outbox writable, readers started)."""

    def __init__(self, gateway: Gateway, host: str, port: int) -> None:
        self._gateway = gateway
        handler = _handler(gateway)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._thread = None


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "dockgate"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, gateway.metrics.render(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                age = time.time() - gateway.last_tick
                ok = age < HEALTHY_TICK_S
                self._send(200 if ok else 503, f"{'ok' if ok else 'stalled'}: main loop turned {age:.1f}s ago\n")
            elif path == "/readyz":
                problems = gateway.readiness_problems()
                body = "ready\n" if not problems else "not ready: " + "; ".join(problems) + "\n"
                self._send(200 if not problems else 503, body)
            else:
                self._send(404, "not found: try /metrics, /healthz or /readyz\n")

        def _send(self, code: int, body: bytes | str, content_type: str = "text/plain; charset=utf-8") -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http %s", format % args)

    return Handler
