"""All the throughput parts together, and the table they make (``dockgate bench throughput``)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from gateway.bench.throughput.decode import bench_own_decode, bench_sllurp_decode
from gateway.bench.throughput.fleet import bench_fleet
from gateway.bench.throughput.fleet import render as render_fleet
from gateway.bench.throughput.gateway_runs import bench_gateway, bench_startup_and_idle
from gateway.bench.throughput.impinj_iot import bench_impinj_iot
from gateway.bench.throughput.impinj_iot import render as render_drivers
from gateway.bench.throughput.memory import bench_memory
from gateway.bench.throughput.naive import bench_naive
from gateway.bench.throughput.outbox import bench_outbox
from gateway.bench.throughput.processes import BenchError, start_mosquitto, stop
from gateway.bench.throughput.stream import PALLETS, TAGS_PER_PALLET, TAGS_PER_REPORT, rotating_recording

PACED_RATE = 20_000


def run(seconds: float = 10.0, quick: bool = False) -> dict[str, Any]:
    warmup = 0.5 if quick else 3.0
    if quick:
        seconds = min(seconds, 1.0)
    with tempfile.TemporaryDirectory(prefix="dockgate-bench-") as tmp:
        folder = Path(tmp)
        recording = rotating_recording()
        stream = folder / "stream.llrp"
        recording.save(stream)
        broker, broker_port = start_mosquitto(folder)
        try:
            full = bench_gateway(folder, broker_port, stream, seconds, warmup, None)
            paced = bench_gateway(folder, broker_port, stream, seconds, warmup, PACED_RATE)
            naive = bench_naive(broker_port, stream, min(seconds, 5.0), warmup)
            idle = bench_startup_and_idle(folder, broker_port, stream, 1 if quick else 3)
            fleet = bench_fleet(folder, broker_port, stream, seconds, quick)
        finally:
            stop(broker, 10)
        drivers = bench_impinj_iot(folder, min(seconds, 10.0), quick)
        decode = bench_sllurp_decode(recording, min(seconds, 3.0))
        own = bench_own_decode(recording, min(seconds, 3.0))
        memory = bench_memory([10_000] if quick else [10_000, 100_000, 1_000_000])
        box = bench_outbox(quick)
    largest = memory[-1]
    return {
        "gateway_reads_per_s": full["reads_per_s"],
        "sllurp_decode_reads_per_s": decode["reads_per_s"],
        "naive_reads_per_s": naive["acked_per_s"],
        "cpu_us_per_read": full["cpu_us_per_read"],
        "gateway_events_per_s": full["events_per_s"],
        "event_latency_p50_ms": paced["latency_p50_ms"],
        "event_latency_p99_ms": paced["latency_p99_ms"],
        "paced_reads_per_s": paced["reads_per_s"],
        "bytes_per_tracked_tag": largest["bytes_per_tag"],
        "idle_rss_mb": idle["idle_rss_mb"],
        "startup_s": idle["startup_s"],
        "outbox_write_events_per_s": box["write_events_per_s_batch100"],
        "outbox_drain_events_per_s": box["drain_events_per_s"],
        "gateway_vs_sllurp_decode": round(full["reads_per_s"] / decode["reads_per_s"], 2),
        "fleet_8_doors_cpu_us_per_read": next(
            (f["cpu_us_per_read"] for f in fleet if f["doors"] == 8 and not f["idle"]), None
        ),
        "fleet_idle_cpu_percent_of_a_core": fleet[-1]["idle_cpu_percent_of_a_core"],
        "impinj_iot_cpu_us_per_read": drivers["impinj_iot"]["cpu_us_per_read"],
        "impinj_iot_cpu_percent_at_1500_tags_per_s": drivers["impinj_iot"]["cpu_percent_of_a_core"],
        "impinj_iot_https_cpu_percent_at_1500_tags_per_s": drivers["impinj_iot_https"]["cpu_percent_of_a_core"],
        "llrp_driver_cpu_percent_at_1500_tags_per_s": drivers["llrp"]["cpu_percent_of_a_core"],
        "stream": {
            "reads": recording.total_reads,
            "reports": len(recording.frames),
            "bytes": recording.total_bytes,
            "tags": PALLETS * TAGS_PER_PALLET,
            "tags_per_report": TAGS_PER_REPORT,
        },
        "full": full,
        "paced": paced,
        "sllurp_decode": decode,
        "fast_path_decode": own,
        "naive": naive,
        "memory": memory,
        "startup_and_idle": idle,
        "outbox": box,
        "drivers": drivers,
        "fleet": fleet,
        "quick": quick,
    }


def render(r: dict[str, Any]) -> str:
    full, paced, naive = r["full"], r["paced"], r["naive"]
    lines = [
        f"stream: {r['stream']['reads']} reads in {r['stream']['reports']} RO_ACCESS_REPORTs of "
        f"{r['stream']['tags_per_report']}, {r['stream']['tags']} tags (looped)",
        "",
        f"{'':38} {'reads/s':>9} {'us CPU/read':>12} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7}",
        f"{'full gateway, full speed':38} {full['reads_per_s']:>9} {full['cpu_us_per_read']!s:>12} "
        f"{full['events_per_s']:>9} {full['latency_p50_ms']!s:>7} {full['latency_p99_ms']!s:>7}",
        f"{'full gateway, paced ' + str(PACED_RATE) + ' reads/s':38} {paced['reads_per_s']:>9} "
        f"{paced['cpu_us_per_read']!s:>12} {paced['events_per_s']:>9} {paced['latency_p50_ms']!s:>7} "
        f"{paced['latency_p99_ms']!s:>7}",
        f"{'sllurp decode only':38} {r['sllurp_decode']['reads_per_s']:>9} "
        f"{r['sllurp_decode']['cpu_us_per_read']!s:>12}",
        f"{'driver fast path decode only':38} {r['fast_path_decode']['reads_per_s']:>9}",
        f"{'naive (sllurp + paho QoS 1 per read)':38} {naive['acked_per_s']:>9} "
        f"{naive['cpu_us_per_acked_read']!s:>12}   (received {naive['received_per_s']}/s, "
        f"backlog {naive['backlog_reads']} reads)",
        "",
        f"gateway / sllurp decode: {r['gateway_vs_sllurp_decode']}x",
        "memory per tracked tag (RSS; heap by tracemalloc): "
        + ", ".join(
            f"{m['tags']:,} tags {m['bytes_per_tag']} B"
            + (f" ({m['heap_bytes_per_tag']} B)" if "heap_bytes_per_tag" in m else "")
            for m in r["memory"]
        ),
        f"idle RSS {r['idle_rss_mb']} MB, start-up {r['startup_s']} s (runs {r['startup_and_idle']['startup_runs_s']})",
        f"outbox: {r['outbox']['write_events_per_s_batch1']} events/s durable one per commit, "
        f"{r['outbox']['write_events_per_s_batch100']} in batches of 100; drain {r['outbox']['drain_events_per_s']}"
        " events/s",
        "",
        *render_fleet(r["fleet"]),
        "",
        *render_drivers(r["drivers"]),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dockgate bench throughput",
        description="Throughput of the whole gateway against the alternatives, on one recorded LLRP byte stream.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per gateway run (default 10)")
    parser.add_argument("--quick", action="store_true", help="a few seconds per part: a smoke run")
    args = parser.parse_args(argv)
    try:
        result = run(args.seconds, args.quick)
    except BenchError as exc:
        print(f"dockgate bench throughput: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
