"""The journal as the outbox writes it: every event linked in the same transaction, published payloads
carrying hash and prev_hash, checkpoints signed and stored, and the verifier agreeing; each tampering
of the database file found at its seq by ``dockgate journal verify``."""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gateway.cli.commands import main
from gateway.config.traceability import JournalSettings
from gateway.delivery.outbox import Outbox
from gateway.domain.model import LocationEvent
from gateway.journal.checkpointer import Checkpointer, load_key
from gateway.journal.verify import entry_from_payload, verify
from tests.conftest import check_event

SETTINGS = JournalSettings(checkpoint_entries=10, checkpoint_every=3600)


def _event(i: int) -> LocationEvent:
    epc = f"3074257BF7194E40{i:08X}"
    return LocationEvent("arrived", 1000.0 + i, "gw", "dock-1", "r", epc, [1], 2, -50.0, 1000.0 + i, 1000.0 + i)


def _filled(tmp_path: Path, count: int = 35, batch: int = 5) -> tuple[Outbox, Checkpointer, list[dict[str, Any]]]:
    outbox = Outbox(tmp_path / "outbox.db", journal=True)
    outbox.open()
    signer = Checkpointer(SETTINGS, "gw", load_key(SETTINGS, outbox.path))
    published: list[bytes] = []
    assert outbox.journal is not None
    for start in range(1, count + 1, batch):
        outbox.append([_event(i) for i in range(start, min(start + batch, count + 1))], lambda e: "t")
        signer.turn(2000.0 + start, outbox.journal, outbox.write, 1, published.append)
    payloads = [json.loads(item.payload) for item in outbox.next_batch(0, 1000)]
    return outbox, signer, payloads


def test_payloads_are_linked_valid_and_verify_with_the_checkpoints(tmp_path: Path) -> None:
    outbox, _, payloads = _filled(tmp_path)
    assert outbox.journal is not None
    assert [p["seq"] for p in payloads] == list(range(1, 36))
    assert payloads[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(payloads))
    for payload in payloads:
        check_event(payload)
    checkpoints = outbox.journal.checkpoints()
    assert [c["seq"] for c in checkpoints] == [10, 20, 30]  # every 10 entries; 31-35 not signed yet
    public = load_key(SETTINGS, outbox.path).public_key()
    stored = verify(outbox.journal.entries(), checkpoints, public)
    assert stored.ok and stored.entries == 35 and stored.unsigned_tail == 5, stored.summary()
    captured = verify([entry_from_payload(p) for p in payloads], checkpoints, public)
    assert captured.ok and captured.entries == 35, captured.summary()
    assert (tmp_path / "outbox.db.journal.key").stat().st_mode & 0o777 == 0o600
    outbox.close()


def test_the_chain_continues_across_a_reopen(tmp_path: Path) -> None:
    outbox, _, _ = _filled(tmp_path, count=12)
    outbox.close()
    again = Outbox(tmp_path / "outbox.db", journal=True)
    again.open()
    again.append([_event(99)], lambda e: "t")
    assert again.journal is not None
    entries = list(again.journal.entries())
    assert [e.seq for e in entries] == list(range(1, 14))
    assert entries[-1].prev_hash == entries[-2].hash
    again.close()


def _verify_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    config = tmp_path / "config.yaml"
    config.write_text(
        json.dumps(
            {
                "gateway": {"id": "gw"},
                "readers": [{"name": "r", "type": "llrp", "host": "127.0.0.1"}],
                "locations": [{"name": "dock-1", "read_points": [{"reader": "r"}]}],
                "outbox": {"path": str(tmp_path / "outbox.db")},
            }
        )
    )
    code = main(["journal", "verify", "--config", str(config)])
    return code, capsys.readouterr().out


@pytest.mark.parametrize(
    ("tamper", "seq", "says"),
    [
        ("UPDATE journal SET entry = replace(entry, 'dock-1', 'dock-2') WHERE seq = 17", 17, "does not match its hash"),
        ("DELETE FROM journal WHERE seq = 23", 24, "seq 23-23 missing"),
        ("DELETE FROM journal WHERE seq > 33", 34, "the journal ends at seq 33"),
        ("DELETE FROM journal WHERE seq > 25", 26, "the journal ends at seq 25"),
    ],
)
def test_verify_finds_each_tampering_at_its_seq(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tamper: str, seq: int, says: str
) -> None:
    outbox, _, _ = _filled(tmp_path)
    outbox.close()
    code, out = _verify_cli(tmp_path, capsys)
    assert code == 0 and "OK: 35 entries (seq 1-35), 3 checkpoints" in out, out
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        db.execute(tamper)
    code, out = _verify_cli(tmp_path, capsys)
    assert code == 1 and f"FAILED at seq {seq}: " in out and says in out, out


def test_two_swapped_entries_are_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outbox, _, _ = _filled(tmp_path)
    outbox.close()
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        rows = {
            s: (e, h, p)
            for s, e, h, p in db.execute("SELECT seq, entry, hash, prev_hash FROM journal WHERE seq IN (12, 13)")
        }
        for seq, other in ((12, 13), (13, 12)):
            db.execute("UPDATE journal SET entry = ?, hash = ?, prev_hash = ? WHERE seq = ?", (*rows[other], seq))
    code, out = _verify_cli(tmp_path, capsys)
    assert code == 1 and "FAILED at seq 12: " in out, out


def test_pruning_keeps_what_remains_verifiable(tmp_path: Path) -> None:
    outbox, _, _ = _filled(tmp_path)
    assert outbox.journal is not None
    db = sqlite3.connect(tmp_path / "outbox.db")
    db.execute("UPDATE journal SET created = 0 WHERE seq <= 25")  # older than journal.keep
    db.commit()
    db.close()
    removed: list[int] = []
    outbox.write(lambda: removed.append(outbox.journal.prune(1.0)))  # type: ignore[union-attr]
    assert removed == [20]  # up to the checkpoint at or below the last old entry: 21 is anchored by it
    entries = list(outbox.journal.entries())
    assert entries[0].seq == 21 and [c["seq"] for c in outbox.journal.checkpoints()] == [20, 30]
    verdict = verify(entries, outbox.journal.checkpoints(), load_key(SETTINGS, outbox.path).public_key())
    assert verdict.ok and verdict.entries == 15, verdict.summary()
    outbox.close()


def test_the_journal_figures_are_metrics() -> None:
    import time as clock

    from gateway.ops.metrics import GatewayMetrics
    from gateway.ops.snapshot import GatewaySnapshot, JournalFigures

    metrics = GatewayMetrics()
    snapshot = GatewaySnapshot(gateway="gw", journal=JournalFigures(35, 30, clock.time() - 12.0, True))
    metrics.attach(lambda: snapshot)
    text = metrics.render().decode()
    assert "dockgate_journal_entry_seq 35.0" in text and "dockgate_journal_checkpoint_seq 30.0" in text
    assert "dockgate_journal_signing 1.0" in text
    age = float(text.split("\ndockgate_journal_checkpoint_age_seconds ")[1].split()[0])
    assert 11.0 <= age < 60.0
    off = GatewayMetrics()
    off.attach(lambda: GatewaySnapshot(gateway="gw"))
    assert "dockgate_journal" not in off.render().decode()  # journal.enabled: false
