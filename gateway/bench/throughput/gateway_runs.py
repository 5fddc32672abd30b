"""Parts 1 and 4, and start-up and idle memory: ``dockgate run`` as a child process, fed by the simulator
replaying the stream, measured through its own ``/metrics``."""

from __future__ import annotations

import time
import urllib.request
from functools import partial
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from gateway.bench.throughput.processes import (
    BenchError,
    cpu_seconds,
    rss_bytes,
    start_gateway,
    start_simulator,
    stop,
    wait_until,
)
from gateway.bench.throughput.stream import GATEWAY, READER
from gateway.ops.net import free_port


def gateway_config(folder: Path, broker_port: int, reader_port: int, metrics_port: int) -> Path:
    path = folder / f"gateway-{metrics_port}.yaml"
    path.write_text(
        f"""\
gateway: {{id: {GATEWAY}}}
mqtt: {{host: 127.0.0.1, port: {broker_port}}}
readers:
  - {{name: {READER}, type: llrp, host: 127.0.0.1, port: {reader_port}, antennas: [1, 2, 3, 4],
     report_every_n_tags: 100}}
locations:
  - {{name: dock-1, read_points: [{{reader: {READER}}}]}}
pipeline: {{arrive_min_reads: 2, arrive_window: 1s, depart_after: 500ms}}
outbox: {{path: {folder / f"outbox-{metrics_port}.db"}, max_events: 1000000}}
metrics: {{listen: "127.0.0.1:{metrics_port}"}}
logging: {{level: WARNING}}
"""
    )
    return path


def scrape(port: int) -> dict[str, Any]:
    """The counters the benchmark needs from ``/metrics``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    out: dict[str, Any] = {"reads": 0.0, "events": 0.0, "connected": 0.0, "buckets": {}, "tracked": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "dockgate_reads_total":
                out["reads"] += sample.value
            elif sample.name == "dockgate_events_total":
                out["events"] += sample.value
            elif sample.name == "dockgate_reader_connected":
                out["connected"] = sample.value
            elif sample.name == "dockgate_tracked_tags":
                out["tracked"] = sample.value
            elif sample.name == "dockgate_read_to_publish_latency_seconds_bucket":
                out["buckets"][float(sample.labels["le"])] = sample.value
    return out


def percentile(before: dict[float, float], after: dict[float, float], q: float) -> float | None:
    """The q-quantile (seconds) of the observations between two scrapes of a cumulative histogram,
    interpolated linearly inside the bucket it falls in."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= rank:
            if bound == float("inf"):
                return lower
            inside = cumulative - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, cumulative
    return lower


def bench_gateway(
    folder: Path, broker_port: int, stream: Path, seconds: float, warmup: float, rate: float | None
) -> dict[str, Any]:
    """Reads/s, events/s, CPU per read, latency percentiles and RSS of one gateway run."""
    sim, reader_port = start_simulator(stream, rate)
    metrics_port = free_port()
    gateway = start_gateway(
        gateway_config(folder, broker_port, reader_port, metrics_port), folder / f"gateway-{metrics_port}.log"
    )
    try:
        wait_until(lambda: scrape(metrics_port)["reads"] > 0, 30, "the gateway's first reads")
        time.sleep(warmup)
        before, cpu0, sim0 = scrape(metrics_port), cpu_seconds(gateway.pid), cpu_seconds(sim.pid)
        t0 = time.monotonic()
        time.sleep(seconds)
        after, cpu1, sim1 = scrape(metrics_port), cpu_seconds(gateway.pid), cpu_seconds(sim.pid)
        elapsed = time.monotonic() - t0
        rss = rss_bytes(gateway.pid)
    finally:
        stop(gateway)
        stop(sim)
    reads = after["reads"] - before["reads"]
    events = after["events"] - before["events"]
    p50 = percentile(before["buckets"], after["buckets"], 0.50)
    p99 = percentile(before["buckets"], after["buckets"], 0.99)
    return {
        "replay_rate": rate or "full speed",
        "seconds": round(elapsed, 2),
        "reads_per_s": round(reads / elapsed),
        "events_per_s": round(events / elapsed, 1),
        "cpu_us_per_read": round((cpu1 - cpu0) / reads * 1e6, 2) if reads else None,
        "gateway_cpu_cores": round((cpu1 - cpu0) / elapsed, 2),
        "simulator_cpu_cores": round((sim1 - sim0) / elapsed, 2),
        "latency_p50_ms": round(p50 * 1000, 2) if p50 is not None else None,
        "latency_p99_ms": round(p99 * 1000, 2) if p99 is not None else None,
        "rss_mb": round(rss / 2**20, 1),
    }


def _connected(port: int) -> bool:
    return bool(scrape(port)["connected"] == 1)


def _ready(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
        return bool(response.status == 200)


def bench_startup_and_idle(folder: Path, broker_port: int, stream: Path, runs: int) -> dict[str, Any]:
    """Spawn -> ``/readyz`` 200, ``runs`` times (median); then RSS after 2 s connected to a reader replaying
    100 reads/s."""
    startups = []
    idle_rss = None
    for run in range(runs):
        sim, reader_port = start_simulator(stream, 100.0)
        metrics_port = free_port()
        config = gateway_config(folder, broker_port, reader_port, metrics_port)
        began = time.perf_counter()
        gateway = start_gateway(config, folder / f"startup-{run}.log")
        try:
            ready_at = None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if _ready(metrics_port):
                        ready_at = time.perf_counter()
                        break
                except OSError:
                    pass
                time.sleep(0.005)
            if ready_at is None:
                raise BenchError("the gateway did not become ready within 30 s")
            startups.append(ready_at - began)
            if run == 0:
                wait_until(partial(_connected, metrics_port), 20, "the reader to connect")
                time.sleep(2.0)
                idle_rss = rss_bytes(gateway.pid)
        finally:
            stop(gateway)
            stop(sim)
    startups.sort()
    return {
        "startup_s": round(startups[len(startups) // 2], 3),
        "startup_runs_s": [round(s, 3) for s in startups],
        "idle_rss_mb": round((idle_rss or 0) / 2**20, 1),
    }
