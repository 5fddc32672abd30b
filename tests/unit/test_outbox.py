"""The SQLite outbox: seq given durably, never reused, rows leave only on acknowledge."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from gateway.delivery.outbox import Outbox
from gateway.domain.errors import OutboxError
from gateway.domain.model import LocationEvent


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
    items = box.next_batch(0, 10)
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
    box.accept([1, 2, 3])
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
    box.accept([2, 4])
    box.close()  # a kill -9 leaves the same file: every commit was synchronous

    again = Outbox(tmp_path / "o.db")
    again.open()
    assert [i.seq for i in again.next_batch(0, 100)] == [1, 3, 5]
    assert [i.seq for i in again.next_batch(1, 1)] == [3]
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
    assert [i.seq for i in box.next_batch(0, 10)] == [1]
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


# ---- retention -----------------------------------------------------------------------------------


def _box(tmp_path: Path, **settings: object) -> Outbox:
    from gateway.config import OutboxSettings

    box = Outbox(OutboxSettings.model_validate({"path": tmp_path / "o.db", **settings}))
    box.open()
    return box


def _payloads(box: Outbox) -> list[dict[str, object]]:
    return [json.loads(i.payload) for i in box.next_batch(0, 1000)]


def test_drop_oldest_counts_logs_and_marks_the_gap(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    box = _box(tmp_path, max_events=5, policy="drop_oldest")
    box.append([event() for _ in range(4)], topic)
    box.append([event() for _ in range(3)], topic)  # 7 > 5: seq 1 and 2 go
    assert [p["seq"] for p in _payloads(box)] == [3, 4, 5, 6, 7]
    assert _payloads(box)[0]["gap_before"] == 2
    assert "gap_before" not in _payloads(box)[1]
    assert box.dropped == {"drop_oldest": 2}
    assert box.pending_count() == 5
    assert "event=events_dropped reason=drop_oldest count=2 seq_ranges=1-2" in caplog.text
    box.close()


def test_drop_oldest_spares_events_in_flight(tmp_path: Path) -> None:
    box = _box(tmp_path, max_events=3)
    box.append([event() for _ in range(3)], topic)
    box.append([event(), event()], topic, protect_through=2)  # 1 and 2 are with the broker connection
    assert [p["seq"] for p in _payloads(box)] == [1, 2, 5]
    assert _payloads(box)[2]["gap_before"] == 2
    box.close()


def test_reject_new_keeps_the_old_and_tells_the_next_stored_event(tmp_path: Path) -> None:
    box = _box(tmp_path, max_events=2, policy="reject_new")
    box.append([event(), event(), event()], topic)  # seq 3 rejected
    assert [p["seq"] for p in _payloads(box)] == [1, 2]
    assert box.dropped == {"reject_new": 1}
    box.append([event()], topic)  # still full: seq 4 rejected
    box.accept([1, 2])
    box.close()
    box = _box(tmp_path, max_events=2, policy="reject_new")  # the pending gap survives a restart
    late = event()
    box.append([late], topic)
    assert late.seq == 5
    assert _payloads(box) == [{**late.to_payload(), "gap_before": 2}]
    box.close()


def test_max_bytes(tmp_path: Path) -> None:
    box = _box(tmp_path, max_bytes=4096)
    for _ in range(30):
        box.append([event()], topic)
    assert box.pending_bytes <= 4096
    assert box.pending_count() + box.dropped["drop_oldest"] == 30
    assert sum(len(i.payload) for i in box.next_batch(0, 100)) == box.pending_bytes
    box.close()


def test_max_age(tmp_path: Path) -> None:
    import time

    box = _box(tmp_path, max_age="1h")
    box.append([event(), event()], topic)
    box.expire(time.time() + 1800)
    assert box.pending_count() == 2
    box.expire(time.time() + 3601)
    assert box.pending_count() == 0
    assert box.dropped == {"max_age": 2}
    nxt = event()
    box.append([nxt], topic)
    assert _payloads(box)[0]["gap_before"] == 2
    box.close()


# ---- faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(b"this is not a database at all" * 100),
        lambda p: p.write_bytes(p.read_bytes()[:1500]),
    ],
    ids=["garbage", "truncated"],
)
def test_corrupt_outbox_is_moved_aside_and_seq_never_goes_back(
    tmp_path: Path, damage: object, caplog: pytest.LogCaptureFixture
) -> None:
    box = _box(tmp_path)
    box.append([event() for _ in range(50)], topic)
    box.close()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"o.db{suffix}").unlink(missing_ok=True)
    damage(tmp_path / "o.db")  # type: ignore[operator]

    again = _box(tmp_path)
    assert again.moved_aside is not None and again.moved_aside.exists()
    assert "event=corrupt_outbox_moved_aside" in caplog.text
    e = event()
    again.append([e], topic)
    assert e.seq > 50  # never back, never repeated
    again.close()


def test_seq_continues_when_the_outbox_file_is_deleted(tmp_path: Path) -> None:
    box = _box(tmp_path)
    box.append([event() for _ in range(3)], topic)
    box.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"o.db{suffix}").unlink(missing_ok=True)
    again = _box(tmp_path)
    e = event()
    again.append([e], topic)
    assert e.seq > 3
    again.close()


def test_gap_before_carries_over_when_a_marked_event_is_dropped_too(tmp_path: Path) -> None:
    box = _box(tmp_path, max_events=5)
    for _ in range(10):
        box.append([event()], topic)
    payloads = _payloads(box)
    assert [p["seq"] for p in payloads] == [6, 7, 8, 9, 10]
    assert payloads[0]["gap_before"] == 5  # seqs 1-5, though they were dropped one at a time
    assert box.dropped["drop_oldest"] == 5
    box.close()
