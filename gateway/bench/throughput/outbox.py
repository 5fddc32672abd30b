"""Outbox benchmarks: durable write throughput, and how fast a backlog drains when the broker comes back.

    python -m gateway.bench.throughput.outbox              # a table
    python -m gateway.bench.throughput.outbox --json       # the same figures as JSON
    python -m gateway.bench.throughput.outbox --events 200 --drain-events 500   # quick

Writes: ``gateway.delivery.outbox.Outbox`` (WAL, ``synchronous=FULL``) appending real ``LocationEvent``s in
batches of 1, 10 and 100 events per transaction; events/s of durable commits.

Drain: N events are stored while no broker listens and ``gateway.app.Gateway.run()`` (the real main
loop, in a thread) retries the connection; then mosquitto starts and the figure is events/s from the
first PUBACK until the outbox is empty, once per ``mqtt.max_inflight``. Nobody subscribes: this
measures the gateway and the broker, not a consumer.

Figures depend on the disk and the machine; compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from gateway.app import Gateway
from gateway.bench.throughput.processes import BenchError, start_mosquitto, stop
from gateway.bench.throughput.stream import GATEWAY
from gateway.config import OutboxSettings, parse_config
from gateway.delivery.outbox import Outbox
from gateway.domain.model import LocationEvent
from gateway.ops.net import free_port

TOPIC = f"dockgate/{GATEWAY}/events/dock-3"  # where the default topic template puts these events


def make_events(count: int, start: float = 1_795_940_101.0) -> list[LocationEvent]:
    """Departures as the pipeline makes them: every field filled in, about 480 bytes of JSON each."""
    return [
        LocationEvent(
            type="departed",
            time=start + i * 0.01 + 3.5,
            gateway=GATEWAY,
            location="dock-3",
            reader="portal-3",
            epc=f"3034257BF7194E40{i % 0x100000000:08X}",
            uri=f"urn:epc:id:sgtin:0614141.812345.{i}",
            antennas=[1, 2, 3, 4],
            reads=97,
            rssi_max=-49.0,
            first_seen=start + i * 0.01,
            last_seen=start + i * 0.01 + 3.5,
            direction="in",
            direction_confidence=0.83,
        )
        for i in range(count)
    ]


def bench_writes(folder: Path, batch: int, events: int) -> dict[str, Any]:
    outbox = Outbox(OutboxSettings(path=folder / f"write-{batch}.db", max_events=10 * events + 10))
    outbox.open()
    batches = [make_events(batch) for _ in range(max(1, events // batch))]
    began = time.perf_counter()
    for chunk in batches:
        outbox.append(chunk, lambda _e: TOPIC)
    elapsed = time.perf_counter() - began
    stored = outbox.pending_count()
    outbox.close()
    return {
        "batch": batch,
        "events": stored,
        "seconds": round(elapsed, 3),
        "events_per_s": round(stored / elapsed),
        "commits_per_s": round(len(batches) / elapsed),
    }


def _pending(path: Path) -> int:
    db = sqlite3.connect(path, timeout=5)
    try:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        db.close()


def bench_drain(folder: Path, events: int, max_inflight: int) -> dict[str, Any]:
    port = free_port()
    path = folder / f"drain-{max_inflight}.db"
    config = parse_config(
        f"""
gateway: {{id: {GATEWAY}}}
mqtt: {{host: 127.0.0.1, port: {port}, reconnect_delay_max: 200ms, max_inflight: {max_inflight}}}
readers: [{{name: portal-3, type: llrp, host: 127.0.0.1, port: {free_port()}, reconnect_delay_max: 60s}}]
locations: [{{name: dock-3, read_points: [{{reader: portal-3}}]}}]
outbox: {{path: {path}, max_events: {events + 10}}}
"""
    )
    store = Outbox(config.outbox)  # stored while no broker listens, as the gateway would have
    store.open()
    for i in range(0, events, 100):
        store.append(make_events(min(100, events - i)), lambda _e: TOPIC)
    store.close()

    gateway = Gateway(config)

    thread = threading.Thread(target=gateway.run, name="gateway", daemon=True)
    thread.start()
    time.sleep(0.5)  # the gateway is up, failing to connect, retrying
    broker_started = time.perf_counter()
    broker = None
    try:
        broker, _ = start_mosquitto(folder, port)
        first_ack = done = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            left = _pending(path)
            now = time.perf_counter()
            if first_ack is None and left < events:
                first_ack = now
            if left == 0:
                done = now
                break
            time.sleep(0.005)
        if done is None or first_ack is None:
            raise BenchError(f"the outbox did not drain: {_pending(path)} of {events} left")
    finally:
        gateway.request_stop()
        thread.join(30)
        if broker is not None:
            stop(broker, 10)
    elapsed = done - first_ack
    return {
        "events": events,
        "max_inflight": max_inflight,
        "reconnect_s": round(first_ack - broker_started, 3),
        "seconds": round(elapsed, 3),
        "events_per_s": round(events / elapsed) if elapsed > 0 else None,
    }


def bench_outbox(quick: bool) -> dict[str, Any]:
    """The figures of the throughput report: writes in batches of 1 and 100, one drain."""
    logging.getLogger().setLevel(logging.CRITICAL)  # the drain's gateway retries its broker on purpose
    with tempfile.TemporaryDirectory(prefix="dockgate-bench-outbox-") as tmp:
        folder = Path(tmp)
        events = 300 if quick else 3000
        writes = [bench_writes(folder, batch, events) for batch in (1, 100)]
        drain = bench_drain(folder, 500 if quick else 10_000, 100)
    return {
        "write_events_per_s_batch1": writes[0]["events_per_s"],
        "write_events_per_s_batch100": writes[1]["events_per_s"],
        "drain_events_per_s": drain["events_per_s"],
        "drain_events": drain["events"],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.bench.throughput.outbox", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--events", type=int, default=3000, help="events written per batch size (default 3000)")
    parser.add_argument("--drain-events", type=int, default=10000, help="backlog to drain (default 10000)")
    parser.add_argument(
        "--inflight", type=int, nargs="+", default=[100, 1000], help="mqtt.max_inflight values for the drain"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)  # the gateway's connection retries are expected here

    with tempfile.TemporaryDirectory(prefix="dockgate-bench-") as tmp:
        folder = Path(tmp)
        writes = [bench_writes(folder, batch, args.events) for batch in (1, 10, 100)]
        drains = [bench_drain(folder, args.drain_events, inflight) for inflight in args.inflight]
    result = {"writes": writes, "drain": drains}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("outbox durable writes (WAL, synchronous=FULL)")
        print(f"{'batch':>6} {'events':>8} {'seconds':>8} {'events/s':>10} {'commits/s':>10}")
        for w in writes:
            print(
                f"{w['batch']:>6} {w['events']:>8} {w['seconds']:>8} {w['events_per_s']:>10} {w['commits_per_s']:>10}"
            )
        print("\ndrain after an outage (Gateway.run, mosquitto on loopback, no subscriber)")
        print(f"{'events':>8} {'inflight':>8} {'reconnect s':>12} {'seconds':>8} {'events/s':>10}")
        for d in drains:
            print(
                f"{d['events']:>8} {d['max_inflight']:>8} {d['reconnect_s']:>12} {d['seconds']:>8} "
                f"{d['events_per_s'] or '-':>10}"
            )
    return result


if __name__ == "__main__":
    main()
