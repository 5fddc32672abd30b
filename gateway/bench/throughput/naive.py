"""Part 3: the gateway a user might write instead of dockgate: sllurp's client, a tag report callback, one
paho publish per read. The parent side (``bench_naive``) runs the child (this module), which prints one
JSON object:

    python -m gateway.bench.throughput.naive --reader-port 5084 --broker-port 1883 --seconds 5

Per read: ``json.dumps`` of the tag dict and ``client.publish(topic, payload, qos=1)`` with paho's
defaults (20 messages in flight, an unbounded in-memory queue behind them). ``publish()`` returns at
once, so the callback keeps up with sllurp and the backlog grows in memory: the figure that counts is
``acked_per_s`` (reads with a PUBACK per second), not ``received_per_s``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from gateway.bench.throughput.processes import cpu_seconds, rss_bytes, start_simulator, stop

CHILD_MODULE = "gateway.bench.throughput.naive"
TOPIC = "naive/reads"


def bench_naive(broker_port: int, stream: Path, seconds: float, warmup: float) -> dict[str, Any]:
    """The child against the simulator replaying ``stream`` at full speed; its figures."""
    sim, reader_port = start_simulator(stream, None)
    try:
        ports = ["--reader-port", str(reader_port), "--broker-port", str(broker_port)]
        result = subprocess.run(
            [sys.executable, "-m", CHILD_MODULE, *ports, "--seconds", str(seconds), "--warmup", str(warmup)],
            capture_output=True,
            text=True,
            timeout=seconds + warmup + 60,
            check=True,
        )
    finally:
        stop(sim)
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion
    from sllurp.llrp import LLRPReaderClient, LLRPReaderConfig

    parser = argparse.ArgumentParser(prog=f"python -m {CHILD_MODULE}")
    parser.add_argument("--reader-port", type=int, required=True)
    parser.add_argument("--broker-port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args(argv)

    lock = threading.Lock()
    counts = {"received": 0, "acked": 0}
    mqtt = paho.Client(CallbackAPIVersion.VERSION2, client_id="naive-gateway")

    def on_publish(*_: Any) -> None:
        with lock:
            counts["acked"] += 1

    mqtt.on_publish = on_publish
    mqtt.connect("127.0.0.1", args.broker_port)
    mqtt.loop_start()

    def on_tags(_reader: Any, tags: list[dict[str, Any]]) -> None:
        for tag in tags:
            payload = json.dumps(
                {
                    "epc": (tag.get("EPC") or tag.get("EPC-96") or b"").decode(),
                    "antenna": tag.get("AntennaID"),
                    "rssi": tag.get("PeakRSSI"),
                    "time": tag.get("LastSeenTimestampUTC"),
                }
            )
            mqtt.publish(TOPIC, payload, qos=1)
        with lock:
            counts["received"] += len(tags)

    reader = LLRPReaderClient(
        "127.0.0.1",
        args.reader_port,
        LLRPReaderConfig(
            {
                "antennas": [1, 2, 3, 4],
                "report_every_n_tags": 100,
                "report_timeout_ms": 200,
                "tag_content_selector": {
                    "EnableAntennaID": True,
                    "EnablePeakRSSI": True,
                    "EnableFirstSeenTimestamp": True,
                    "EnableLastSeenTimestamp": True,
                    "EnableTagSeenCount": True,
                },
                "reset_on_connect": True,
            }
        ),
    )
    reader.add_tag_report_callback(on_tags)
    me = os.getpid()
    reader.connect()
    try:
        deadline = time.monotonic() + 15
        while counts["received"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(args.warmup)
        with lock:
            r0, a0 = counts["received"], counts["acked"]
        cpu0, t0 = cpu_seconds(me), time.monotonic()
        time.sleep(args.seconds)
        with lock:
            r1, a1 = counts["received"], counts["acked"]
        cpu1, t1 = cpu_seconds(me), time.monotonic()
        rss = rss_bytes(me)
    finally:
        reader.disconnect()
        reader.join(5)
        mqtt.disconnect()
        mqtt.loop_stop()
    elapsed = t1 - t0
    acked = a1 - a0
    result = {
        "qos": 1,
        "seconds": round(elapsed, 3),
        "received_per_s": round((r1 - r0) / elapsed),
        "acked_per_s": round(acked / elapsed),
        "backlog_reads": r1 - a1,
        "cpu_us_per_acked_read": round((cpu1 - cpu0) / acked * 1e6, 2) if acked else None,
        "rss_mb": round(rss / 2**20, 1),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
