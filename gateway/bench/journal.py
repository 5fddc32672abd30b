"""``dockgate bench journal``: what the journal (docs/traceability.md) costs.

- **Per event, in the pipeline**: the same realistic events (arrived and departed, with an EPC, a URI,
  antennas) appended in batches of 100, as the main loop does, to a fresh ``Outbox`` on a temp folder
  with ``journal=False`` and ``journal=True``; the two modes alternate, the median of the rounds is
  kept. ``JournalStore.seal`` (canonical JSON + SHA-256) is also timed alone, without SQLite.
- **verify**: a journal of N entries (1,000,000; 10,000 with ``--quick``) is written straight into the
  outbox's tables (``JournalStore.seal`` + ``insert``, a signed checkpoint every 1,000 entries), then
  ``verify(store.entries(), store.checkpoints(), public)`` is timed end to end on a fresh connection,
  reading from SQLite included. Also bytes per entry on disk (file size / entries) and what a busy
  door (20 events/s) adds per day.

Figures depend on the disk and the machine; docs/benchmarks.md has the method and two full runs.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.config import OutboxSettings
from gateway.delivery.outbox import Outbox
from gateway.domain.model import LocationEvent, rfc3339
from gateway.journal.checkpoint import sign
from gateway.journal.store import JournalStore
from gateway.journal.verify import verify

GATEWAY = "gw-bench"
TOPIC = f"dockgate/{GATEWAY}/events/dock-3"
BATCH = 100  # events per Outbox.append, as the main loop stores a turn's events
CHECKPOINT_EVERY = 1_000  # journal.checkpoint_entries' default
BUSY_DOOR_EVENTS_PER_S = 20
START = 1_796_000_000.0


def make_events(count: int, first: int = 0) -> list[LocationEvent]:
    """Arrivals and departures as the pipeline makes them (a departure: direction and dwell too)."""
    events = []
    for i in range(first, first + count):
        t = START + i * 0.05
        departed = i % 2 == 1
        events.append(
            LocationEvent(
                type="departed" if departed else "arrived",
                time=t + (3.5 if departed else 0.4),
                gateway=GATEWAY,
                location="dock-3",
                reader="portal-3",
                epc=f"3034257BF7194E40{i // 2 % 0x100000000:08X}",
                uri=f"urn:epc:id:sgtin:0614141.812345.{i // 2}",
                antennas=[1, 2, 3, 4] if departed else [1, 2],
                reads=97 if departed else 3,
                rssi_max=-49.0,
                first_seen=t,
                last_seen=t + (3.5 if departed else 0.4),
                direction="in" if departed else None,
                direction_confidence=0.83 if departed else 0.0,
                owner="acme",
            )
        )
    return events


# ---- the cost per event in Outbox.append ----------------------------------------------------------------


def _append_once(folder: Path, journal: bool, events: int, round_: int) -> float:
    """us per event to append ``events`` in batches of BATCH to a fresh outbox (event objects made before)."""
    path = folder / f"append-{'on' if journal else 'off'}-{round_}.db"
    outbox = Outbox(OutboxSettings(path=path, max_events=10 * events + 10), journal=journal)
    outbox.open()
    batches = [make_events(BATCH, k) for k in range(0, events, BATCH)]
    began = time.perf_counter()
    for batch in batches:
        outbox.append(batch, lambda _e: TOPIC)
    elapsed = time.perf_counter() - began
    outbox.close()
    return elapsed / (len(batches) * BATCH) * 1e6


def _seal_alone(events: int) -> float:
    """us per event of ``JournalStore.seal`` alone: canonical JSON and SHA-256, no SQLite."""
    db = sqlite3.connect(":memory:")
    db.executescript("CREATE TABLE journal (seq INTEGER PRIMARY KEY, hash BLOB)")
    store = JournalStore(lambda: db)
    batches = []
    for k in range(0, events, BATCH):
        batch = make_events(BATCH, k)
        for n, event in enumerate(batch):
            event.seq = k + n + 1
        batches.append([event.to_payload() for event in batch])
    began = time.perf_counter()
    for docs in batches:
        _, last = store.seal(docs, START)
        store.written(last)
    return (time.perf_counter() - began) / events * 1e6


def bench_append(folder: Path, events: int, rounds: int) -> dict[str, Any]:
    off: list[float] = []
    on: list[float] = []
    for r in range(rounds):  # alternated, so that a busy moment of the machine hits both modes
        off.append(_append_once(folder, False, events, r))
        on.append(_append_once(folder, True, events, r))
    median_off, median_on = statistics.median(off), statistics.median(on)
    return {
        "events_per_round": events,
        "rounds": rounds,
        "batch": BATCH,
        "us_per_event_without": round(median_off, 2),
        "us_per_event_with": round(median_on, 2),
        "us_per_event_journal": round(median_on - median_off, 2),
        "us_per_event_seal": round(_seal_alone(events), 2),
        "rounds_without": [round(x, 2) for x in off],
        "rounds_with": [round(x, 2) for x in on],
    }


# ---- verify over a large journal ------------------------------------------------------------------------


def build_journal(path: Path, entries: int, key: Ed25519PrivateKey) -> float:
    """``entries`` journal rows and a checkpoint every CHECKPOINT_EVERY in the outbox's schema; seconds taken."""
    began = time.perf_counter()
    Outbox(path, journal=True).open()  # the schema, exactly as the gateway makes it
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")  # building the fixture, not the figure
    store = JournalStore(lambda: db)
    templates = {e.type: e.to_payload() for e in make_events(2)}
    chunk = CHECKPOINT_EVERY
    for first in range(1, entries + 1, chunk):
        docs = []
        for seq in range(first, min(first + chunk, entries + 1)):
            i = seq - 1
            doc = dict(templates["departed" if i % 2 else "arrived"])
            t = START + i * 0.05
            doc.update(
                id=f"{i:08x}-5f1c-4c9e-9a7e-{seq:012x}",
                seq=seq,
                time=rfc3339(t + 0.4),
                epc=f"3034257BF7194E40{i // 2 % 0x100000000:08X}",
                uri=f"urn:epc:id:sgtin:0614141.812345.{i // 2}",
                first_seen=rfc3339(t),
                last_seen=rfc3339(t + 0.4),
            )
            docs.append(doc)
        rows, last = store.seal(docs, START + first * 0.05)
        db.execute("BEGIN")
        store.insert(rows)
        checkpoint = sign(key, GATEWAY, last[0], last[1].hex(), rfc3339(START + last[0] * 0.05))
        store.add_checkpoint(checkpoint)
        db.execute("COMMIT")
        store.written(last)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return time.perf_counter() - began


def bench_verify(folder: Path, entries: int) -> dict[str, Any]:
    key = Ed25519PrivateKey.generate()
    path = folder / "journal.db"
    build_s = build_journal(path, entries, key)
    size = path.stat().st_size
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)  # as dockgate journal verify opens it
    try:
        store = JournalStore(lambda: db)
        began = time.perf_counter()
        verdict = verify(store.entries(), store.checkpoints(), key.public_key())
        elapsed = time.perf_counter() - began
    finally:
        db.close()
    if not verdict.ok or verdict.entries != entries:
        raise RuntimeError(f"the bench's own journal does not verify: {verdict.summary()}")
    per_entry = size / entries
    per_day = per_entry * BUSY_DOOR_EVENTS_PER_S * 86_400
    return {
        "entries": entries,
        "checkpoints": verdict.checkpoints,
        "build_s": round(build_s, 2),
        "verify_s": round(elapsed, 3),
        "verify_entries_per_s": round(entries / elapsed),
        "file_bytes": size,
        "bytes_per_entry": round(per_entry, 1),
        "busy_door_events_per_s": BUSY_DOOR_EVENTS_PER_S,
        "mb_per_day_busy_door": round(per_day / 1e6, 1),
        "gb_per_90_days_busy_door": round(per_day * 90 / 1e9, 1),  # journal.keep's default
    }


def run(quick: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dockgate-bench-journal-") as tmp:
        folder = Path(tmp)
        append = bench_append(folder, 1_000 if quick else 10_000, 1 if quick else 5)
        checked = bench_verify(folder, 10_000 if quick else 1_000_000)
    return {"append": append, "verify": checked, "quick": quick}


def table(result: dict[str, Any]) -> str:
    a, v = result["append"], result["verify"]
    rows = [
        ("Outbox.append without the journal, us/event", a["us_per_event_without"], ""),
        ("Outbox.append with the journal, us/event", a["us_per_event_with"], ""),
        ("the journal's cost, us/event (difference)", a["us_per_event_journal"], "< 20"),
        ("JournalStore.seal alone, us/event", a["us_per_event_seal"], ""),
        (f"verify over {v['entries']:,} entries, entries/s", f"{v['verify_entries_per_s']:,}", ">= 100,000"),
        ("verify, seconds (reading SQLite included)", v["verify_s"], ""),
        ("bytes per entry on disk", v["bytes_per_entry"], ""),
        (f"growth per day at {v['busy_door_events_per_s']} events/s, MB", v["mb_per_day_busy_door"], ""),
        ("growth in 90 days (journal.keep), GB", v["gb_per_90_days_busy_door"], ""),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'figure':<{width}} {'value':>12} {'target':>11}", "-" * (width + 25)]
    lines += [f"{name:<{width}} {value!s:>12} {target:>11}" for name, value, target in rows]
    lines.append(
        f"(append: median of {a['rounds']} alternated rounds of {a['events_per_round']:,} events in batches of "
        f"{a['batch']}; without {a['rounds_without']}, with {a['rounds_with']})"
    )
    return "\n".join(lines)


def main(quick: bool = False, as_json: bool = False) -> str:
    result = run(quick)
    return json.dumps(result, indent=2) if as_json else table(result)
