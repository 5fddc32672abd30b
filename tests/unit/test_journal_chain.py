"""The journal's chain, checkpoints and verifier: an untampered chain verifies, and each kind of
tampering is found at the right seq."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.journal.checkpoint import sign
from gateway.journal.entry import GENESIS, canonical, entry_of, link
from gateway.journal.keys import KeyError_, keygen, load_private, load_public
from gateway.journal.verify import Entry, entry_from_payload, verify

KEY = Ed25519PrivateKey.generate()


def _chain(count: int, start_hash: bytes = GENESIS, first: int = 1) -> list[Entry]:
    out, prev = [], start_hash
    for seq in range(first, first + count):
        body = {"seq": seq, "type": "arrived", "epc": f"{seq:024X}", "location": "dock-1", "note": "Größe"}
        digest = link(prev, body)
        out.append(Entry(seq, body, digest.hex(), prev.hex()))
        prev = digest
    return out


def _checkpoints(entries: list[Entry], every: int, key: Ed25519PrivateKey = KEY) -> list[dict[str, Any]]:
    return [sign(key, "gw", e.seq, e.hash, f"t{e.seq}") for e in entries if e.seq % every == 0 or e is entries[-1]]


def test_the_canonical_form_is_sorted_compact_utf8() -> None:
    assert (
        canonical({"b": 1, "a": "é", "c": [1, {"z": 0, "y": None}]})
        == '{"a":"é","b":1,"c":[1,{"y":null,"z":0}]}'.encode()
    )
    body = {"seq": 1}
    assert link(GENESIS, body) == hashlib.sha256(bytes(32) + b'{"seq":1}').digest()
    assert entry_of({"seq": 1, "hash": "x", "prev_hash": "y", "gap_before": 3}) == {"seq": 1}


def test_an_untampered_chain_verifies_and_duplicates_are_fine() -> None:
    entries = _chain(50)
    verdict = verify([*entries, entries[10], entries[11]], _checkpoints(entries, 10), KEY.public_key())
    assert verdict.ok, verdict.summary()
    assert (verdict.entries, verdict.checkpoints, verdict.duplicates, verdict.unsigned_tail) == (50, 5, 2, 0)
    assert verdict.summary().startswith("OK: 50 entries (seq 1-50), 5 checkpoints, 2 exact duplicates")


def _first(entries: list[Entry], checkpoints: list[dict[str, Any]], complete: bool = True) -> tuple[int, str]:
    verdict = verify(entries, checkpoints, KEY.public_key(), complete)
    assert not verdict.ok
    return verdict.problems[0]


def test_a_changed_field_is_found_at_its_seq() -> None:
    entries = _chain(30)
    checkpoints = _checkpoints(entries, 10)
    entries[16] = dataclasses.replace(entries[16], body={**entries[16].body, "location": "dock-2"})
    assert _first(entries, checkpoints) == (17, "the entry does not match its hash (changed after it was written)")


def test_a_changed_field_with_its_hash_recomputed_breaks_the_next_link_and_the_checkpoint() -> None:
    entries = _chain(30)
    checkpoints = _checkpoints(entries, 10)
    body = {**entries[16].body, "location": "dock-2"}
    entries[16] = dataclasses.replace(
        entries[16], body=body, hash=link(bytes.fromhex(entries[16].prev_hash), body).hex()
    )
    seq, why = _first(entries, checkpoints)
    assert seq == 18 and "does not link to seq 17" in why


def test_a_deleted_entry_two_swapped_and_a_truncated_tail() -> None:
    entries = _chain(30)
    checkpoints = _checkpoints(entries, 10)
    assert _first(entries[:12] + entries[13:], checkpoints) == (14, "seq 13-13 missing")
    swapped = entries[:]
    swapped[5], swapped[6] = (
        dataclasses.replace(entries[6], seq=6, body={**entries[6].body, "seq": 6}),
        dataclasses.replace(entries[5], seq=7, body={**entries[5].body, "seq": 7}),
    )
    assert _first(swapped, checkpoints)[0] == 6
    assert _first(entries[:25], checkpoints) == (30, "a checkpoint covers seq 30, the entries end at 25 (truncated)")


def test_a_checkpoint_signed_with_another_key_is_refused() -> None:
    entries = _chain(20)
    checkpoints = _checkpoints(entries, 10)
    checkpoints[1] = sign(Ed25519PrivateKey.generate(), "gw", 20, entries[19].hash, "t20")
    seq, why = _first(entries, checkpoints)
    assert seq == 20 and why.startswith("checkpoint signed by key")
    forged = {**checkpoints[0], "seq": 11}
    assert _first(entries, [forged]) == (11, "checkpoint signature does not verify")


def test_a_key_rotation_is_announced_by_the_old_key() -> None:
    entries = _chain(30)
    new = Ed25519PrivateKey.generate()
    checkpoints = [
        sign(KEY, "gw", 10, entries[9].hash, "t10", next_key=new.public_key()),
        sign(new, "gw", 20, entries[19].hash, "t20"),
        sign(new, "gw", 30, entries[29].hash, "t30"),
    ]
    assert verify(entries, checkpoints, KEY.public_key()).ok
    unannounced = [checkpoints[0] | {}, sign(Ed25519PrivateKey.generate(), "gw", 20, entries[19].hash, "t20")]
    assert not verify(entries, unannounced, KEY.public_key()).ok


def test_a_capture_may_start_late_and_be_told_of_its_unsigned_tail() -> None:
    entries = _chain(35)
    checkpoints = _checkpoints(entries[:30], 10)
    verdict = verify(entries[12:], checkpoints, KEY.public_key())
    assert verdict.ok and verdict.unsigned_tail == 5 and verdict.first_seq == 13
    payload = {**entries[3].body, "hash": entries[3].hash, "prev_hash": entries[3].prev_hash, "gap_before": 2}
    assert entry_from_payload(json.loads(json.dumps(payload))) == dataclasses.replace(entries[3], gap_before=2)


def test_keys_are_owner_only_and_refused_when_open(tmp_path: Path) -> None:
    private = tmp_path / "journal.key"
    key = keygen(private)
    assert private.stat().st_mode & 0o777 == 0o600
    assert load_public(tmp_path / "journal.key.pub").public_bytes_raw() == key.public_key().public_bytes_raw()
    assert load_private(private).public_key().public_bytes_raw() == key.public_key().public_bytes_raw()
    with pytest.raises(FileExistsError):
        keygen(private)  # never overwritten
    private.chmod(0o644)
    with pytest.raises(KeyError_, match="readable by others"):
        load_private(private)


def test_seqs_dropped_as_announced_are_not_a_failure_unannounced_ones_are() -> None:
    entries = _chain(20)
    checkpoints = _checkpoints(entries, 10)
    capture = [*entries[:7], dataclasses.replace(entries[9], gap_before=2), *entries[10:]]  # 8 and 9 dropped
    verdict = verify(capture, checkpoints, KEY.public_key())
    assert verdict.ok and verdict.announced_missing == 2, verdict.summary()
    short = [*entries[:7], dataclasses.replace(entries[9], gap_before=1), *entries[10:]]
    assert _first(short, checkpoints) == (10, "seq 8-9 missing")
