"""Bytes per tracked tag: RSS of a fresh child process holding N present tags in the pipeline. The child is
``python -m gateway.bench.throughput.memory N``; it prints one JSON object."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from typing import Any

from gateway.bench.throughput.processes import rss_bytes
from gateway.bench.throughput.stream import GATEWAY, READER

CHILD_MODULE = "gateway.bench.throughput.memory"
REPORT_TAGS = 100  # tags per reader report, as the fleet part streams them


def memory_child(tags: int, heap: bool = False) -> dict[str, Any]:
    """In a fresh process: RSS of a pipeline holding ``tags`` present tags minus the same pipeline empty, or
    with ``heap`` the live bytes tracemalloc counts (a cross-check free of arena granularity; slower).
    Each tag gets two reads (arrive_min_reads) so it is ``present``; the reads and events are freed.

    The reads come in reports of ``REPORT_TAGS``, the size a reader's RO_ACCESS_REPORT has and the main loop
    hands the pipeline one report at a time: batches of 10,000 (the first version of this bench) left 20,000
    TagReads of garbage per call in pymalloc's arenas, which RSS counts and the tags do not own (850 B/tag at
    10,000 tags of which ~550 B was that garbage)."""
    import tracemalloc

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
    if heap:
        tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0] if heap else rss_bytes(me)
    for start in range(0, tags, REPORT_TAGS):
        reads = [
            TagRead(READER, 1 + (i & 1), f"3034257BF7{i:014X}", -50.0 - (i % 20), now)
            for i in range(start, min(tags, start + REPORT_TAGS))
        ]
        pipeline.process(reads + reads, now)
        del reads
    gc.collect()
    used = (tracemalloc.get_traced_memory()[0] if heap else rss_bytes(me)) - base
    tracked = pipeline.presence.tracked_count
    return {"tags": tracked, "delta_mb": round(used / 2**20, 1), "bytes_per_tag": round(used / max(1, tracked))}


def _child(*args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", CHILD_MODULE, *args], capture_output=True, text=True, timeout=900, check=True
    )
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def bench_memory(counts: list[int], heap_up_to: int = 100_000) -> list[dict[str, Any]]:
    """``memory_child`` once per count, each in a process of its own; ``bytes_per_tag`` is the RSS figure.
    Counts up to ``heap_up_to`` are also measured with tracemalloc (``heap_bytes_per_tag``), in another child."""
    out = []
    for n in counts:
        row = _child(str(n))
        if n <= heap_up_to:
            row["heap_bytes_per_tag"] = _child(str(n), "--heap")["bytes_per_tag"]
        out.append(row)
    return out


if __name__ == "__main__":
    print(json.dumps(memory_child(int(sys.argv[1]), heap="--heap" in sys.argv[2:])))
