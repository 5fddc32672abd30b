"""The SQLite outbox: seq given durably, never reused, rows leave only on acknowledge."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from gateway.errors import OutboxError
from gateway.model import LocationEvent
from gateway.outbox import Outbox


def event(epc: str = "30340000000000000000AAAA", kind: str = "arrived") -> LocationEvent:
    return LocationEvent(
        type=kind,
        time=1_800_000_000.5,
        gateway="gw",
        location="dock-3",
        reader="portal-3",
        epc=epc,
        antennas=[1, 2],
        reads=3,
        rssi_max=-50.0,
        first_seen=1_800_000_000.0,
        last_seen=1_800_000_000.5,
    )


def topic(e: LocationEvent) -> str:
    return f"dockgate/gw/events/{e.location}"


def test_seq_starts_at_one_and_is_stored_in_the_payload(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.open()
    events = [event(), event(kind="departed")]
    box.append(events, topic)
    assert [e.seq for e in events] == [1, 2]
    items = box.pending(0, 10)
    assert [i.seq for i in items] == [1, 2]
    assert items[0].topic == "dockgate/gw/events/dock-3"
    payload = json.loads(items[1].payload)
    assert payload["seq"] == 2 and payload["type"] == "departed" and payload["id"] == events[1].id
    assert payload["time"] == "2027-01-15T08:00:00.500Z"
    box.close()


def test_seq_never_repeats_across_restarts_even_when_everything_was_acknowledged(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.open()
    box.append([event(), event(), event()], topic)
    box.acknowledge([1, 2, 3])
    assert box.pending_count() == 0
    box.close()

    again = Outbox(tmp_path / "o.db")
    again.open()
    e = event()
    again.append([e], topic)
    assert e.seq == 4
    again.close()


def test_unacknowledged_events_survive_a_restart_in_order(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.open()
    box.append([event(epc=f"{i:024X}") for i in range(5)], topic)
    box.acknowledge([2, 4])
    box.close()  # a kill -9 leaves the same file: every commit was synchronous

    again = Outbox(tmp_path / "o.db")
    again.open()
    assert [i.seq for i in again.pending(0, 100)] == [1, 3, 5]
    assert [i.seq for i in again.pending(1, 1)] == [3]
    again.close()


def test_failed_write_stores_nothing_and_uses_no_seq(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = Outbox(path)
    box.open()
    box.append([event()], topic)
    # A real SQLite failure inside the transaction (as a full disk would give).
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TRIGGER full BEFORE INSERT ON events WHEN NEW.seq = 3 BEGIN SELECT RAISE(FAIL, 'disk full'); END"
    )
    db.commit()
    db.close()
    batch = [event(), event()]
    with pytest.raises(OutboxError, match="cannot store 2 event"):
        box.append(batch, topic)
    assert [e.seq for e in batch] == [0, 0]
    assert [i.seq for i in box.pending(0, 10)] == [1]
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER full")
    db.commit()
    db.close()
    box.append(batch, topic)
    assert [e.seq for e in batch] == [2, 3]
    box.close()


def test_wal_and_full_sync(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.open()
    db = box._require()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    box.close()
