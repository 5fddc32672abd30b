"""``dockgate journal export``: a journal of two owners' events in a real outbox, exported in each format
through the CLI. The jsonl export verifies offline with the public key alone (for one owner too, without
a trace of the other owner's EPCs), an edited export fails; the CSV parses back; the EPCIS document is
valid against the GS1 schema."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.cli.commands import main
from gateway.config.traceability import JournalSettings
from gateway.delivery.outbox import Outbox
from gateway.domain.model import LocationEvent, rfc3339
from gateway.journal.checkpoint import sign
from gateway.journal.checkpointer import Checkpointer, load_key
from gateway.journal.entry import GENESIS, link
from gateway.journal.keys import keygen
from gateway.journal.verify import Entry, entry_from_payload, verify
from tests.unit.test_epcis import check_epcis

SETTINGS = JournalSettings(checkpoint_entries=10, checkpoint_every=3600)
T0 = 1_795_000_000.0  # 2026-11-18T11:06:40Z; event i happens at T0 + i
OWNERS = {"acme": "0614141", "globex": "0012345"}


def _owner(i: int) -> str:
    return "acme" if i % 2 else "globex"


def _epc(i: int) -> str:
    return f"3074257BF7194E40{i:08X}" if i % 2 else f"30340C0E4000000D{i:08X}"


def _event(i: int) -> LocationEvent:
    owner = _owner(i)
    kind, direction = ("departed", "out") if i % 3 == 0 else ("arrived", None)
    uri = f"urn:epc:id:sgtin:{OWNERS[owner]}.812345.{i}"
    t = T0 + i
    return LocationEvent(
        kind, t, "gw", "dock-1", "r", _epc(i), [1], 2, -50.0, t - 1, t, uri=uri, direction=direction, owner=owner
    )


@pytest.fixture
def gateway(tmp_path: Path) -> Path:
    """A config whose outbox holds 35 events (odd: acme, even: globex), checkpoints at seq 10, 20 and 30."""
    outbox = Outbox(tmp_path / "outbox.db", journal=True)
    outbox.open()
    assert outbox.journal is not None
    signer = Checkpointer(SETTINGS, "gw", load_key(SETTINGS, outbox.path))
    for start in range(1, 36, 5):
        outbox.append([_event(i) for i in range(start, start + 5)], lambda e: "t")
        signer.turn(2000.0 + start, outbox.journal, outbox.write, 1, None)
    outbox.close()
    config = tmp_path / "config.yaml"
    config.write_text(
        json.dumps(
            {
                "gateway": {"id": "gw"},
                "readers": [{"name": "r", "type": "llrp", "host": "127.0.0.1"}],
                "locations": [
                    {
                        "name": "dock-1",
                        "read_points": [{"reader": "r"}],
                        "epcis": {"read_point": "urn:epc:id:sgln:0614141.00777.3", "biz_step": "arriving"},
                    }
                ],
                "owners": [{"name": name, "company_prefixes": [prefix]} for name, prefix in OWNERS.items()],
                "outbox": {"path": str(tmp_path / "outbox.db")},
            }
        )
    )
    return config


def _export(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["journal", "export", "--config", str(config), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _verify(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    public = path.parent / "outbox.db.journal.key.pub"
    code = main(["journal", "verify", "--events", str(path), "--public-key", str(public)])
    return code, capsys.readouterr().out


def _range(first: int, last: int) -> list[str]:
    """--from and --to that select events first..last (to is exclusive)."""
    return ["--from", rfc3339(T0 + first), "--to", rfc3339(T0 + last + 1)]


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_an_export_of_a_range_verifies_with_the_public_key(gateway: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = gateway.parent / "export.jsonl"
    code, _, err = _export(gateway, capsys, *_range(12, 27), "--out", str(out))
    assert code == 0 and "exported 16 events, 20 entries, 3 checkpoints" in err, err
    lines = _lines(out.read_text(encoding="utf-8"))
    events = [d for d in lines if "signature" not in d]
    # from after the checkpoint at 10 to the checkpoint at 30: seqs 11-30, all in full without --owner
    assert [d["seq"] for d in events] == list(range(11, 31))
    assert [d["seq"] for d in lines if "signature" in d] == [10, 20, 30]
    assert not any(d.get("redacted") for d in lines)
    code, said = _verify(out, capsys)
    assert code == 0 and said.startswith(f"capture {out}: OK: 20 entries (seq 11-30), 3 checkpoints"), said


def test_the_unsigned_tail_is_exported_and_reported(gateway: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = gateway.parent / "tail.jsonl"
    assert _export(gateway, capsys, *_range(33, 35), "--out", str(out))[0] == 0
    assert [d["seq"] for d in _lines(out.read_text())] == [30, 31, 32, 33, 34, 35]
    code, said = _verify(out, capsys)
    assert code == 0 and "5 after the last checkpoint (linked, unsigned)" in said, said


def test_an_owners_export_verifies_and_holds_no_trace_of_the_other_owner(
    gateway: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = gateway.parent / "acme.jsonl"
    code, _, err = _export(gateway, capsys, *_range(1, 35), "--owner", "acme", "--out", str(out))
    assert code == 0 and "exported 18 events" in err, err
    text = out.read_text(encoding="utf-8")
    assert not any(_epc(i) in text for i in range(2, 36, 2)) and "globex" not in text and "0012345" not in text
    lines = _lines(text)
    redacted = [d for d in lines if d.get("redacted")]
    assert [d["seq"] for d in redacted] == list(range(2, 36, 2))
    assert all(set(d) == {"seq", "hash", "prev_hash", "redacted"} for d in redacted)
    code, said = _verify(out, capsys)
    assert code == 0 and "OK: 35 entries (seq 1-35), 3 checkpoints" in said and "17 redacted links" in said, said
    # every acme entry up to seq 30 reaches its checkpoint (10, 20, 30: globex's) only through redacted links:
    # the export says so rather than claim more than it proves
    assert "15 tied to a checkpoint only through redacted links" in said, said


@pytest.mark.parametrize("owner", [None, "acme"])
def test_an_edited_export_fails_at_its_seq(
    gateway: Path, capsys: pytest.CaptureFixture[str], owner: str | None
) -> None:
    out = gateway.parent / "export.jsonl"
    args = ["--owner", owner] if owner else []
    assert _export(gateway, capsys, *_range(1, 35), *args, "--out", str(out))[0] == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    [at] = [i for i, line in enumerate(lines) if '"seq":17,' in line and "signature" not in line]
    lines[at] = lines[at].replace("dock-1", "dock-9")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, said = _verify(out, capsys)
    assert code == 1 and "FAILED at seq 17: the entry does not match its hash" in said, said


def test_a_redacted_link_with_another_hash_breaks_the_chain(gateway: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = gateway.parent / "acme.jsonl"
    assert _export(gateway, capsys, *_range(1, 35), "--owner", "acme", "--out", str(out))[0] == 0
    lines = _lines(out.read_text())
    for doc in lines:
        if doc.get("redacted") and doc["seq"] == 14:
            doc["hash"] = "ab" * 32
    out.write_text("".join(json.dumps(d) + "\n" for d in lines))
    code, said = _verify(out, capsys)
    assert code == 1 and "FAILED at seq 15: prev_hash does not link to seq 14" in said, said


def test_the_csv_parses_back(gateway: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text, _ = _export(gateway, capsys, *_range(12, 27), "--owner", "globex", "--format", "csv")
    assert code == 0
    assert text.startswith("seq,time,type,location,owner,epc,uri,direction,reader,operator,vehicle,hash,prev_hash\r\n")
    rows = list(csv.DictReader(text.splitlines()))
    assert [int(r["seq"]) for r in rows] == list(range(12, 28, 2))
    first = rows[0]
    assert (first["time"], first["type"], first["owner"], first["epc"]) == (
        rfc3339(T0 + 12),
        "departed",
        "globex",
        _epc(12),
    )
    assert first["direction"] == "out" and rows[1]["direction"] == ""  # departed 12; arrived 14
    assert all(len(r["hash"]) == 64 and len(r["prev_hash"]) == 64 for r in rows)


def test_the_epcis_export_is_one_valid_document(gateway: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text, _ = _export(gateway, capsys, *_range(1, 35), "--owner", "acme", "--format", "epcis")
    assert code == 0
    doc = json.loads(text)
    check_epcis(doc)
    events = doc["epcisBody"]["eventList"]
    assert [e["dockgate:seq"] for e in events] == list(range(1, 36, 2))
    assert all(
        e["type"] == "ObjectEvent" and e["readPoint"] == {"id": "urn:epc:id:sgln:0614141.00777.3"} for e in events
    )
    assert events[0]["epcList"] == ["urn:epc:id:sgtin:0614141.812345.1"]
    assert {"dockgate": "urn:dockgate:epcis:"} in doc["@context"]
    assert all(len(e["dockgate:hash"]) == 64 for e in events)


def test_from_is_inclusive_and_to_exclusive(gateway: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--from", rfc3339(T0 + 5), "--to", rfc3339(T0 + 8), "--format", "csv"]
    code, text, _ = _export(gateway, capsys, *args)
    assert code == 0 and [int(r["seq"]) for r in csv.DictReader(text.splitlines())] == [5, 6, 7]


def test_nothing_selected_gives_an_empty_export(gateway: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text, err = _export(gateway, capsys, "--from", "2020-01-01T00:00:00Z", "--to", "2020-01-02T00:00:00Z")
    assert code == 0 and text == "" and "exported 0 events" in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--from", "yesterday", "--to", "2026-12-01T00:00:00Z"], "--from: 'yesterday' is not an RFC 3339 time"),
        (["--from", "2026-11-01T00:00:00", "--to", "2026-12-01T00:00:00Z"], "has no UTC offset"),
        (["--from", "2026-11-01T00:00:00Z", "--to", "2026-12-01T00:00:00Z", "--owner", "initech"], "not an owner"),
        (["--from", "2026-12-01T00:00:00Z", "--to", "2026-12-01T00:00:00Z"], "is not after --from"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_1(
    gateway: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    code, out, err = _export(gateway, capsys, *args)
    assert code == 1 and out == "" and says in err and len(err.strip().splitlines()) == 1, err


def test_no_journal_and_a_bad_config(gateway: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (gateway.parent / "outbox.db").rename(gateway.parent / "elsewhere.db")
    code, _, err = _export(gateway, capsys, *_range(1, 2))
    assert code == 1 and "no journal:" in err and "outbox.path" in err
    gateway.write_text("gateway: [")
    assert _export(gateway, capsys, *_range(1, 2))[0] == 2


# ---- the verifier and redacted links -------------------------------------------------------------------------


def test_verify_counts_redacted_links_and_what_they_leave_unanchored() -> None:
    key = Ed25519PrivateKey.generate()
    chain, prev = [], GENESIS
    for seq in range(1, 11):
        body = {"seq": seq, "owner": "acme" if seq % 2 else "globex"}
        digest = link(prev, body)
        chain.append(Entry(seq, body, digest.hex(), prev.hex()))
        prev = digest
    checkpoints = [sign(key, "gw", 10, chain[-1].hash, "t")]
    links = [
        entry_from_payload({"seq": e.seq, "hash": e.hash, "prev_hash": e.prev_hash, "redacted": True})
        if e.seq in (4, 8)
        else e
        for e in chain
    ]
    verdict = verify(links, checkpoints, key.public_key())
    assert verdict.ok and verdict.redacted == 2, verdict.summary()
    assert verdict.unanchored == 6  # 9 and 10 reach the checkpoint in full; 1-3 and 5-7 pass a redacted link
    assert "2 redacted links (content withheld)" in verdict.summary()
    # the full entry beside its redacted link is a duplicate, not a conflict, and restores the content
    both = verify([*links, chain[3], chain[7]], checkpoints, key.public_key())
    assert both.ok and both.duplicates == 2 and both.redacted == 0 and both.unanchored == 0, both.summary()
    assert dataclasses.replace(chain[0]).redacted is False


def test_an_export_after_a_key_rotation_verifies_with_the_first_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The checkpoint that announced the new key (before the segment) comes with the export."""
    outbox = Outbox(tmp_path / "outbox.db", journal=True)
    outbox.open()
    assert outbox.journal is not None
    first = load_key(SETTINGS, outbox.path)
    keygen(tmp_path / "next.key")
    rotating = JournalSettings(checkpoint_entries=10, checkpoint_every=3600, next_key_file=tmp_path / "next.key")
    signers = [Checkpointer(SETTINGS, "gw", first), Checkpointer(rotating, "gw", first)]
    for start in range(1, 41, 10):
        outbox.append([_event(i) for i in range(start, start + 10)], lambda e: "t")
        signers[start > 10].turn(2000.0 + start, outbox.journal, outbox.write, 1, None)
    announced = [cp["seq"] for cp in outbox.journal.checkpoints() if cp["next_key"]]
    outbox.close()
    assert announced == [20]
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
    out = tmp_path / "export.jsonl"
    assert _export(config, capsys, *_range(33, 35), "--out", str(out))[0] == 0
    assert [d["seq"] for d in _lines(out.read_text()) if "signature" in d] == [20, 30, 40]
    code, said = _verify(out, capsys)
    assert code == 0 and "OK: 10 entries (seq 31-40), 3 checkpoints" in said, said
