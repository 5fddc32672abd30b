"""Smoke runs of the benchmark code: it runs and reports every figure. No timing assertions: figures
belong in docs/benchmarks.md, not in CI."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.llrp.wire import TagReadDecoder, decode_tag_reports, reads_via_sllurp
from gateway.bench.throughput.stream import rotating_scenario
from simulators.llrp import frames as f
from simulators.llrp.recording import Recording, ReplayCursor, record
from simulators.llrp.scenario import Scenario

KEYS = (
    "gateway_reads_per_s",
    "sllurp_decode_reads_per_s",
    "cpu_us_per_read",
    "event_latency_p99_ms",
    "bytes_per_tracked_tag",
    "event_latency_p50_ms",
    "idle_rss_mb",
    "startup_s",
    "outbox_write_events_per_s",
    "outbox_drain_events_per_s",
)


def test_recording_round_trips_and_decodes() -> None:
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


def _tiny() -> Scenario:
    return rotating_scenario(pallets=1, tags=5, read_rate=5.0)


@pytest.mark.timeout(180)
def test_bench_throughput_quick_reports_every_figure(tmp_path: Path) -> None:
    """As the README says to run it: the installed command, from a folder that is not the checkout, with
    nothing of the checkout on the path (every child process it starts must import installed code only)."""
    script = Path(sys.executable).with_name("dockgate")  # the console script, beside this interpreter
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "gateway"]
    result = subprocess.run(
        [*command, "bench", "throughput", "--quick", "--json"],
        cwd=tmp_path,
        env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout)
    for key in KEYS:
        assert isinstance(figures[key], int | float), (key, figures[key])
        assert figures[key] > 0, (key, figures[key])
    # May be 0 in a one-second window at full speed: sllurp's thread can starve paho's, and the gateway's
    # backlog can outlast arrive_window (docs/benchmarks.md, "Figures"). Paced, events do come out.
    assert figures["naive_reads_per_s"] >= 0
    assert figures["memory"][0]["heap_bytes_per_tag"] > 0  # the tracemalloc cross-check of the RSS figure
    assert figures["gateway_events_per_s"] >= 0
    assert figures["paced"]["events_per_s"] > 0
    # the fleet of doors (issue 18): each reader connected, its reads counted, the idle box measured
    fleet = figures["fleet"]
    assert [(f["doors"], f["idle"]) for f in fleet] == [(1, False), (2, False), (2, True)]
    assert all(f["readers_connected"] == f["doors"] for f in fleet)
    assert all(f["reads_per_s"] > 0 and f["cpu_us_per_read"] > 0 for f in fleet if not f["idle"])
    assert fleet[-1]["reads_per_s"] == 0 and fleet[-1]["idle_cpu_percent_of_a_core"] >= 0
    assert figures["quick"] is True


@pytest.mark.parametrize(
    "selector",
    [
        f.ALL_FIELDS,
        f.ContentSelector(),
        f.ContentSelector(antenna_id=True, peak_rssi=True),
        f.ContentSelector(first_seen=True, channel_index=True, tag_seen_count=True),
    ],
)
def test_fast_tag_read_decoder_matches_sllurp(selector: f.ContentSelector) -> None:
    """The driver's hot path (one struct per TagReportData) gives what sllurp's decoder gives, also for
    EPCs other than 96 bits (EPCData, the walk) mixed into the same report."""
    rng = random.Random(7)
    decoder = TagReadDecoder("portal-1")
    encoder = f.TagReportEncoder(selector, rospec_id=3)
    for round_ in range(3):
        tags = [
            encoder.encode(
                encoder.prefix(bytes(rng.randrange(256) for _ in range(size))), 1 + i % 4, -40 - i, 1_700_000 + i
            )
            for i, size in enumerate([12, 12, 8, 12, 16, 12])
        ]
        frame = f.ro_access_report(round_ + 1, tags)
        assert decoder.decode(frame, 5.0) == reads_via_sllurp(frame, "portal-1", 5.0)


@pytest.mark.timeout(120)
def test_bench_journal_quick_reports_every_figure(tmp_path: Path) -> None:
    """``dockgate bench journal --quick``: both parts run and every figure is there (timings are not checked)."""
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "bench", "journal", "--quick", "--json"],
        cwd=tmp_path,
        env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout)
    assert figures["quick"] is True
    append, checked = figures["append"], figures["verify"]
    for key in ("us_per_event_without", "us_per_event_with", "us_per_event_seal"):
        assert isinstance(append[key], int | float) and append[key] > 0, (key, append[key])
    assert isinstance(append["us_per_event_journal"], int | float)  # a difference: may be below 0 in a quick run
    assert checked["entries"] == 10_000 and checked["checkpoints"] == 10
    for key in ("verify_entries_per_s", "bytes_per_entry", "mb_per_day_busy_door", "file_bytes"):
        assert isinstance(checked[key], int | float) and checked[key] > 0, (key, checked[key])
    table = subprocess.run(
        [sys.executable, "-m", "gateway", "bench", "journal", "--quick"],
        cwd=tmp_path,
        env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=110,
        check=True,
    ).stdout
    assert "verify over 10,000 entries, entries/s" in table and "us/event" in table
