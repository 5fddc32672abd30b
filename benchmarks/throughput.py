"""Throughput of the whole gateway against the alternatives, on one recorded LLRP byte stream and one broker.

    dockgate bench throughput            # a table (about 2 minutes)
    dockgate bench throughput --json     # one JSON object
    dockgate bench throughput --quick    # a few seconds per part: a smoke run, not figures

The stream: ``rotating_scenario()`` recorded with the simulator's own encoders into RO_ACCESS_REPORTs of
100 reads (``simulators/llrp/replay.py``). Pallets of 100 tags pass one after the other on two antennas,
each tag read about 80 times per visit; the simulator loops the file, so every tag comes back after
the whole stream has played. With ``depart_after: 500ms`` each pass of a tag is one ``arrived`` and one
``departed``: about 2.5 events per 100 reads, at any replay speed that keeps a loop longer than 0.5 s.

Parts, each a separate process where it matters (the machine's cores are shared by all of them):

1. full gateway: ``dockgate run`` (child) <- LLRP simulator replaying at full speed (child) over TCP,
   -> mosquitto (child, ``max_queued_messages 0``, nobody subscribed). Reads/s and events/s from the
   gateway's ``/metrics`` counters over a window after a warm-up, CPU from the gateway process's
   user+system time, read-to-PUBACK latency from its ``dockgate_read_to_publish_latency_seconds``
   histogram (arrivals: from the read that confirmed the arrival; departures: from the decision);
   percentiles interpolated inside the histogram's buckets (1, 2.5, 5, 10, 25, 50, 100 ms ...).
2. sllurp decode-only: ``LLRPMessage(msgbytes=frame)`` on each frame of the same stream, in process.
3. naive gateway: sllurp's ``LLRPReaderClient`` + one paho QoS 1 publish per read (``benchmarks/naive.py``).
4. the full gateway again with the stream paced at 20k reads/s: event latency under a steady load.

Separately: bytes per tracked tag (RSS of a child holding 10k/100k/1M tags in the pipeline's presence
tracker), idle RSS of ``dockgate run`` with one reader connected, start-up time (spawn -> ``/readyz``
200), and the outbox benchmarks of ``benchmarks/outbox.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from gateway.broker import free_port
from simulators.llrp.replay import Recording, record
from simulators.llrp.scenario import Scenario, scenario_from_dict

REPO = Path(__file__).resolve().parent.parent
GATEWAY = "gw-bench"
READER = "portal-1"
PACED_RATE = 20_000


# ---- the stream ----------------------------------------------------------------------------------------


def rotating_scenario(pallets: int = 40, tags: int = 100, read_rate: float = 20.0) -> Scenario:
    """Pallet i passes antennas 1+i%4 and 1+(i+1)%4 from 0.5*i s to 0.5*i + 2 s: four pallets in the field
    at a time, each tag read ``read_rate`` times a second per antenna (80 reads per visit)."""
    return scenario_from_dict(
        {
            "name": "rotating",
            "read_rate": read_rate,
            "rssi_noise_db": 2.0,
            "seed": 8,
            "pallets": [
                {
                    "name": f"pallet-{i + 1}",
                    "location": "dock-1",
                    "tags": [{"sgtin": {"company_prefix": "0614141", "item_reference": f"8{i:05d}", "count": tags}}],
                    "visits": [
                        {
                            "start": 0.5 * i,
                            "end": 0.5 * i + 2.0,
                            "antennas": {1 + i % 4: -50 - i % 7, 1 + (i + 1) % 4: -58 - i % 5},
                        }
                    ],
                }
                for i in range(pallets)
            ],
        }
    )


# ---- the parts -----------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux ``/proc``)."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{path}" if path else str(REPO))


def start_mosquitto(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = folder / "mosquitto.conf"
    # max_queued_messages 0: no silent drops (FIELD-NOTES); persistence off, as in the tests
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\npersistence false\n")
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port)
    return process, port


def start_simulator(stream: Path, rate: float | None) -> tuple[subprocess.Popen[str], int]:
    cmd = [sys.executable, "-m", "simulators.llrp", "--port", "0", "--replay", str(stream), "--log-level", "WARNING"]
    if rate is not None:
        cmd += ["--rate", str(rate)]
    process = subprocess.Popen(cmd, cwd=REPO, env=_env(), stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if match:
            return process, int(match.group(1))
    raise RuntimeError(f"the simulator did not start (exit {process.wait()})")


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


def start_gateway(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--config", str(config)],
            cwd=REPO,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


# ---- 1 and 4: the full gateway ---------------------------------------------------------------------------


def bench_gateway(
    folder: Path, broker_port: int, stream: Path, seconds: float, warmup: float, rate: float | None
) -> dict[str, Any]:
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


# ---- 2: sllurp decode-only -------------------------------------------------------------------------------


def bench_sllurp_decode(recording: Recording, seconds: float) -> dict[str, Any]:
    from sllurp.llrp import LLRPMessage

    frames = [(frame, n) for frame, n in zip(recording.frames, recording.reads, strict=True) if n]
    reads = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        for frame, n in frames[:200]:
            LLRPMessage(msgbytes=frame)  # decodes the whole message, like sllurp's client per frame
            reads += n
        frames = frames[200:] + frames[:200]
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"reads_per_s": round(reads / elapsed), "cpu_us_per_read": round(cpu / reads * 1e6, 2)}


def bench_own_decode(recording: Recording, seconds: float) -> dict[str, Any]:
    """The driver's fast path on the same frames, for comparison."""
    from drivers.llrp_wire import decode_tag_reports

    frames = [(frame, n) for frame, n in zip(recording.frames, recording.reads, strict=True) if n]
    reads = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        for frame, n in frames[:200]:
            decode_tag_reports(frame)
            reads += n
        frames = frames[200:] + frames[:200]
    return {"reads_per_s": round(reads / (time.perf_counter() - t0))}


# ---- 3: the naive gateway --------------------------------------------------------------------------------


def bench_naive(broker_port: int, stream: Path, seconds: float, warmup: float) -> dict[str, Any]:
    sim, reader_port = start_simulator(stream, None)
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.naive",
                "--reader-port",
                str(reader_port),
                "--broker-port",
                str(broker_port),
                "--seconds",
                str(seconds),
                "--warmup",
                str(warmup),
            ],
            cwd=REPO,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=seconds + warmup + 60,
            check=True,
        )
    finally:
        stop(sim)
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


# ---- memory, idle, start-up --------------------------------------------------------------------------------


_MEMORY_CHILD = """
import json, sys
from benchmarks.throughput import memory_child
print(json.dumps(memory_child(int(sys.argv[1]))))
"""


def memory_child(tags: int) -> dict[str, Any]:
    """In a fresh process: RSS of a pipeline holding ``tags`` present tags minus the same pipeline empty.
    Each tag gets two reads (arrive_min_reads) so it is ``present``; the reads and events are freed."""
    import gc

    from gateway.config import parse_config
    from gateway.core.pipeline import Pipeline
    from gateway.domain.model import TagRead

    config = parse_config(
        f"""
gateway: {{id: {GATEWAY}}}
readers: [{{name: {READER}, type: llrp, host: 127.0.0.1, antennas: [1, 2]}}]
locations: [{{name: dock-1, read_points: [{{reader: {READER}}}]}}]
"""
    )
    pipeline = Pipeline(config)
    me = os.getpid()
    now = 1_795_940_100.0
    warm = [TagRead(READER, 1, f"30342{i:019X}", -50.0, now) for i in range(1000)]
    pipeline.process(warm + warm, now)  # touch every code path once before the baseline
    pipeline = Pipeline(config)
    del warm
    gc.collect()
    base = rss_bytes(me)
    batch = 10_000
    for start in range(0, tags, batch):
        reads = [
            TagRead(READER, 1 + (i & 1), f"3034257BF7{i:014X}", -50.0 - (i % 20), now)
            for i in range(start, min(tags, start + batch))
        ]
        pipeline.process(reads + reads, now)
        del reads
    gc.collect()
    used = rss_bytes(me) - base
    tracked = pipeline.presence.tracked_count
    return {"tags": tracked, "rss_delta_mb": round(used / 2**20, 1), "bytes_per_tag": round(used / max(1, tracked))}


def bench_memory(counts: list[int]) -> list[dict[str, Any]]:
    out = []
    for n in counts:
        result = subprocess.run(
            [sys.executable, "-c", _MEMORY_CHILD, str(n)],
            cwd=REPO,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        out.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return out


def bench_startup_and_idle(folder: Path, broker_port: int, stream: Path, runs: int) -> dict[str, Any]:
    """Spawn -> ``/readyz`` 200, ``runs`` times (median); then RSS after 2 s connected to a reader replaying
    100 reads/s."""
    startups = []
    idle_rss = None

    def connected(port: int) -> bool:
        return bool(scrape(port)["connected"] == 1)

    for run in range(runs):
        sim, reader_port = start_simulator(stream, 100.0)
        metrics_port = free_port()
        config = gateway_config(folder, broker_port, reader_port, metrics_port)
        began = time.perf_counter()
        gateway = start_gateway(config, folder / f"startup-{run}.log")
        try:
            ready_at = None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and ready_at is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/readyz", timeout=1) as response:
                        if response.status == 200:
                            ready_at = time.perf_counter()
                except OSError:
                    time.sleep(0.005)
            if ready_at is None:
                raise RuntimeError("the gateway did not become ready within 30 s")
            startups.append(ready_at - began)
            if run == 0:
                wait_until(lambda port=metrics_port: connected(port), 20, "the reader to connect")
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


def bench_outbox(quick: bool) -> dict[str, Any]:
    import logging

    from benchmarks import outbox

    logging.getLogger().setLevel(logging.CRITICAL)  # the drain's gateway retries its broker on purpose
    with tempfile.TemporaryDirectory(prefix="dockgate-bench-outbox-") as tmp:
        folder = Path(tmp)
        events = 300 if quick else 3000
        writes = [outbox.bench_writes(folder, batch, events) for batch in (1, 100)]
        drain = outbox.bench_drain(folder, 500 if quick else 10_000, 100)
    return {
        "write_events_per_s_batch1": writes[0]["events_per_s"],
        "write_events_per_s_batch100": writes[1]["events_per_s"],
        "drain_events_per_s": drain["events_per_s"],
        "drain_events": drain["events"],
    }


# ---- all together ----------------------------------------------------------------------------------------


def run(seconds: float = 10.0, quick: bool = False) -> dict[str, Any]:
    warmup = 0.5 if quick else 3.0
    if quick:
        seconds = min(seconds, 1.0)
    with tempfile.TemporaryDirectory(prefix="dockgate-bench-") as tmp:
        folder = Path(tmp)
        pallets = 40  # also --quick: a shorter stream would loop faster than depart_after, and give no events
        recording = record(rotating_scenario(pallets=pallets))
        stream = folder / "stream.llrp"
        recording.save(stream)
        broker, broker_port = start_mosquitto(folder)
        try:
            full = bench_gateway(folder, broker_port, stream, seconds, warmup, None)
            paced = bench_gateway(folder, broker_port, stream, seconds, warmup, PACED_RATE)
            naive = bench_naive(broker_port, stream, min(seconds, 5.0), warmup)
            idle = bench_startup_and_idle(folder, broker_port, stream, 1 if quick else 3)
        finally:
            broker.terminate()
            broker.wait(10)
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
        "stream": {
            "reads": recording.total_reads,
            "reports": len(recording.frames),
            "bytes": recording.total_bytes,
            "tags": pallets * 100,
            "tags_per_report": 100,
        },
        "full": full,
        "paced": paced,
        "sllurp_decode": decode,
        "fast_path_decode": own,
        "naive": naive,
        "memory": memory,
        "startup_and_idle": idle,
        "outbox": box,
        "quick": quick,
    }


def render(r: dict[str, Any]) -> str:
    full, paced, naive = r["full"], r["paced"], r["naive"]
    lines = [
        f"stream: {r['stream']['reads']} reads in {r['stream']['reports']} RO_ACCESS_REPORTs of 100, "
        f"{r['stream']['tags']} tags (looped)",
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
        "memory per tracked tag: " + ", ".join(f"{m['tags']:,} tags {m['bytes_per_tag']} B" for m in r["memory"]),
        f"idle RSS {r['idle_rss_mb']} MB, start-up {r['startup_s']} s (runs {r['startup_and_idle']['startup_runs_s']})",
        f"outbox: {r['outbox']['write_events_per_s_batch1']} events/s durable one per commit, "
        f"{r['outbox']['write_events_per_s_batch100']} in batches of 100; drain {r['outbox']['drain_events_per_s']}"
        " events/s",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dockgate bench throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per gateway run (default 10)")
    parser.add_argument("--quick", action="store_true", help="a few seconds per part: a smoke run")
    args = parser.parse_args(argv)
    result = run(args.seconds, args.quick)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
