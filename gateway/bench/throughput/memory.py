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


def memory_child(tags: int) -> dict[str, Any]:
    """In a fresh process: RSS of a pipeline holding ``tags`` present tags minus the same pipeline empty.
    Each tag gets two reads (arrive_min_reads) so it is ``present``; the reads and events are freed."""
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
    """``memory_child`` once per count, each in a process of its own."""
    out = []
    for n in counts:
        result = subprocess.run(
            [sys.executable, "-m", CHILD_MODULE, str(n)], capture_output=True, text=True, timeout=600, check=True
        )
        out.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return out


if __name__ == "__main__":
    print(json.dumps(memory_child(int(sys.argv[1]))))
