"""Smoke runs of the benchmark code: it runs and reports every figure. No timing assertions: figures
belong in docs/benchmarks.md, not in CI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from drivers.llrp_wire import decode_tag_reports
from simulators.llrp.replay import Recording, ReplayCursor, record
from tests.conftest import REPO

KEYS = (
    "gateway_reads_per_s",
    "sllurp_decode_reads_per_s",
    "naive_reads_per_s",
    "cpu_us_per_read",
    "event_latency_p99_ms",
    "bytes_per_tracked_tag",
    "gateway_events_per_s",
    "event_latency_p50_ms",
    "idle_rss_mb",
    "startup_s",
    "outbox_write_events_per_s",
    "outbox_drain_events_per_s",
)


def test_recording_round_trips_and_decodes() -> None:
    from benchmarks.throughput import rotating_scenario

    recording = record(rotating_scenario(pallets=2, tags=10, read_rate=5.0), tags_per_report=7)
    again = Recording.from_bytes(recording.to_bytes())
    assert again == recording
    assert all(n == 7 for n in recording.reads[:-1])
    assert sum(len(decode_tag_reports(frame)) for frame in recording.frames) == recording.total_reads


def test_paced_replay_sends_what_is_due() -> None:
    recording = Recording.from_bytes(record(_tiny(), tags_per_report=10).to_bytes())
    sent: list[bytes] = []
    cursor = ReplayCursor(recording, rate=100.0, now=0.0)
    assert cursor.pump(sent.append, now=0.0) == 10  # the first report is due at once
    assert cursor.pump(sent.append, now=0.05) == 0  # the next 10 reads are due at 0.1 s
    assert cursor.wait_s(0.05) == pytest.approx(0.05)
    assert cursor.pump(sent.append, now=0.1) == 10
    assert len(sent) == 2


def _tiny():  # type: ignore[no-untyped-def]
    from benchmarks.throughput import rotating_scenario

    return rotating_scenario(pallets=1, tags=5, read_rate=5.0)


@pytest.mark.timeout(180)
def test_bench_throughput_quick_reports_every_figure() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "bench", "throughput", "--quick", "--json"],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout)
    for key in KEYS:
        assert isinstance(figures[key], int | float), (key, figures[key])
        assert figures[key] > 0, (key, figures[key])
    assert figures["quick"] is True
