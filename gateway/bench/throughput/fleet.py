"""The price of a box of doors (issue 18): ``dockgate run`` with 1, 4 and 8 LLRP readers, each on its own
location and each fed by its own simulator process at 1,500 tags/s (the recorded stream's reports of 100
tags, keepalives on), measured from outside the gateway: CPU cores used, CPU per read, event latency
p50/p99 from its ``/metrics``, RSS; then the same box idling (readers connected, no tag in the field):
CPU per second of idling. Runnable alone: ``python -m gateway.bench.throughput.fleet [SECONDS]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from gateway.bench.throughput.gateway_runs import percentile, scrape
from gateway.bench.throughput.processes import (
    cpu_seconds,
    rss_bytes,
    start_gateway,
    start_mosquitto,
    start_simulator,
    stop,
    wait_until,
)
from gateway.bench.throughput.stream import rotating_recording
from gateway.ops.net import free_port

TAGS_PER_S = 1500.0  # per reader
DOORS = (1, 4, 8)
IDLE_SCENARIO = """\
name: idle
description: readers connected, nothing in the field (one pallet, an hour from now)
duration: 7200s
pallets:
  - name: later
    location: door-1
    tags: [{sgtin: {company_prefix: "0614141", item_reference: "812345", serial: 1, count: 1}}]
    visits: [{start: 3600s, end: 3601s, antennas: {1: -50}}]
"""


def fleet_config(folder: Path, broker_port: int, reader_ports: list[int], metrics_port: int) -> Path:
    readers = "\n".join(
        f"  - {{name: portal-{i}, type: llrp, host: 127.0.0.1, port: {port}, antennas: [1, 2, 3, 4], "
        "report_every_n_tags: 100}"
        for i, port in enumerate(reader_ports, start=1)
    )
    locations = "\n".join(
        f"  - {{name: door-{i}, read_points: [{{reader: portal-{i}}}]}}" for i in range(1, len(reader_ports) + 1)
    )
    path = folder / f"fleet-{metrics_port}.yaml"
    path.write_text(
        f"""\
gateway: {{id: gw-fleet}}
mqtt: {{host: 127.0.0.1, port: {broker_port}}}
readers:
{readers}
locations:
{locations}
pipeline: {{arrive_min_reads: 2, arrive_window: 1s, depart_after: 500ms}}
outbox: {{path: {folder / f"outbox-{metrics_port}.db"}, max_events: 1000000}}
metrics: {{listen: "127.0.0.1:{metrics_port}"}}
logging: {{level: WARNING}}
"""
    )
    return path


def _idle_simulator(folder: Path) -> tuple[subprocess.Popen[str], int]:
    scenario = folder / "idle.yaml"
    scenario.write_text(IDLE_SCENARIO)
    return start_simulator(None, None, scenario)


def _connected(port: int) -> int:
    """Readers connected, from ``dockgate_reader_connected`` (one sample per reader)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(
        1 for line in text.splitlines() if line.startswith("dockgate_reader_connected{") and line.endswith(" 1.0")
    )


def bench_doors(folder: Path, broker_port: int, stream: Path | None, doors: int, seconds: float) -> dict[str, Any]:
    """One box with ``doors`` readers; ``stream`` None: idling."""
    sims = [_idle_simulator(folder) if stream is None else start_simulator(stream, TAGS_PER_S) for _ in range(doors)]
    metrics_port = free_port()
    config = fleet_config(folder, broker_port, [port for _, port in sims], metrics_port)
    gateway = start_gateway(config, folder / f"fleet-{metrics_port}.log")
    try:
        wait_until(lambda: _connected(metrics_port) == doors, 30, f"{doors} readers connected")
        time.sleep(3.0)  # the first reports in, the start-up behind
        before, cpu0, t0 = scrape(metrics_port), cpu_seconds(gateway.pid), time.monotonic()
        sim_cpu0 = sum(cpu_seconds(p.pid) for p, _ in sims)
        time.sleep(seconds)
        after, cpu1, elapsed = scrape(metrics_port), cpu_seconds(gateway.pid), time.monotonic() - t0
        sim_cpu1 = sum(cpu_seconds(p.pid) for p, _ in sims)
        rss = rss_bytes(gateway.pid)
        connected = _connected(metrics_port)
    finally:
        stop(gateway)
        for sim, _ in sims:
            stop(sim)
    reads = after["reads"] - before["reads"]
    p50 = percentile(before["buckets"], after["buckets"], 0.50)
    p99 = percentile(before["buckets"], after["buckets"], 0.99)
    cores = (cpu1 - cpu0) / elapsed
    return {
        "doors": doors,
        "idle": stream is None,
        "readers_connected": connected,
        "seconds": round(elapsed, 2),
        "reads_per_s": round(reads / elapsed),
        "gateway_cpu_cores": round(cores, 4),
        "cpu_us_per_read": round((cpu1 - cpu0) / reads * 1e6, 2) if reads else None,
        "idle_cpu_percent_of_a_core": round(cores * 100, 2) if stream is None else None,
        "simulators_cpu_cores": round((sim_cpu1 - sim_cpu0) / elapsed, 2),
        "latency_p50_ms": round(p50 * 1000, 2) if p50 is not None else None,
        "latency_p99_ms": round(p99 * 1000, 2) if p99 is not None else None,
        "rss_mb": round(rss / 2**20, 1),
    }


def bench_fleet(folder: Path, broker_port: int, stream: Path, seconds: float, quick: bool) -> list[dict[str, Any]]:
    doors = (1, 2) if quick else DOORS
    out = [bench_doors(folder, broker_port, stream, n, seconds) for n in doors]
    out.append(bench_doors(folder, broker_port, None, doors[-1], seconds))
    return out


def render(parts: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"fleet: readers at {TAGS_PER_S:,.0f} tags/s each, one location each, simulators in their own processes",
        f"{'doors':>6} {'reads/s':>9} {'cores':>7} {'us CPU/read':>12} {'p50 ms':>7} {'p99 ms':>7} {'RSS MB':>7}",
    ]
    for p in parts:
        label = f"{p['doors']} idle" if p["idle"] else str(p["doors"])
        lines.append(
            f"{label:>6} {p['reads_per_s']:>9} {p['gateway_cpu_cores']:>7} {p['cpu_us_per_read']!s:>12} "
            f"{p['latency_p50_ms']!s:>7} {p['latency_p99_ms']!s:>7} {p['rss_mb']:>7}"
        )
    idle = [p for p in parts if p["idle"]]
    if idle:
        lines.append(f"idle: {idle[-1]['idle_cpu_percent_of_a_core']} % of a core with {idle[-1]['doors']} readers")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    seconds = float(args[0]) if args else 10.0
    with tempfile.TemporaryDirectory(prefix="dockgate-fleet-") as tmp:
        folder = Path(tmp)
        stream = folder / "stream.llrp"
        rotating_recording().save(stream)
        broker, port = start_mosquitto(folder)
        try:
            parts = bench_fleet(folder, port, stream, seconds, quick=seconds < 3)
        finally:
            stop(broker, 10)
    print("\n".join(render(parts)))
    print(json.dumps(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
