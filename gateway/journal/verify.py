"""The checks an auditor runs with the public key alone: every link, every signature, no seq missing,
no seq with two different entries (an exact duplicate, as a QoS 1 redelivery makes, is fine and
counted). Used on the local journal and on a capture of the published events alike.

What a signed checkpoint at seq K proves: the entry at K has that hash, and through the links every
entry before it back to the first one verified. Entries after the last checkpoint are linked but not
yet signed: reported, not a failure (the next checkpoint comes within ``journal.checkpoint_every``).

A *redacted link* (``{"seq", "hash", "prev_hash", "redacted": true}``, as ``dockgate journal export --owner``
writes another owner's entry) keeps the chain's seqs and links checkable without its content. Its own hash
cannot be recomputed, so an entry whose way to a checkpoint passes through one is not proven by that
checkpoint: counted as ``unanchored`` (reported, not a failure: it is the exporter's word).
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from gateway.journal.checkpoint import check
from gateway.journal.entry import GENESIS, entry_of, link

_HASH = re.compile("[0-9a-f]{64}")


class StoredBody(Mapping[str, Any]):
    """An entry as the journal stores it: its canonical bytes, parsed only when read as a mapping.

    ``verify`` hashes ``canonical`` as it is (no parse, no encoding again); only when that does not match
    does it hash the canonical form of the parsed entry, as for any other body, so a verdict is the same
    as for the parsed dict. Immutable: the bytes cannot go stale."""

    __slots__ = ("_doc", "canonical")

    def __init__(self, canonical: bytes) -> None:
        self.canonical = canonical
        self._doc: dict[str, Any] | None = None

    def _parsed(self) -> dict[str, Any]:
        if self._doc is None:
            self._doc = json.loads(self.canonical)
        return self._doc

    def __getitem__(self, key: str) -> Any:
        return self._parsed()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._parsed())

    def __len__(self) -> int:
        return len(self._parsed())

    def __repr__(self) -> str:
        return f"StoredBody({self.canonical!r})"


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    body: Mapping[str, Any]  # the entry (a payload without the delivery fields)
    hash: str
    prev_hash: str
    gap_before: int = 0  # seqs just before this one that were never delivered, as the gateway announced
    redacted: bool = False  # a link without its content (another owner's entry in an export): body is empty


@dataclass
class Verdict:
    entries: int = 0
    checkpoints: int = 0
    duplicates: int = 0  # exact repeats of an entry (QoS 1 redelivery)
    announced_missing: int = 0  # seqs missing that the gateway announced as dropped (gap_before)
    unsigned_tail: int = 0  # entries after the last checkpoint
    redacted: int = 0  # links without content
    unanchored: int = 0  # entries with content tied to their checkpoint only through redacted links
    first_seq: int | None = None
    last_seq: int | None = None
    problems: list[tuple[int, str]] = field(default_factory=list)  # (seq, why), in seq order

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        span = f"seq {self.first_seq}-{self.last_seq}" if self.first_seq is not None else "no entries"
        head = (
            f"{self.entries} entries ({span}), {self.checkpoints} checkpoints, {self.duplicates} exact duplicates"
            + (f", {self.announced_missing} dropped as announced (gap_before)" if self.announced_missing else "")
            + (f", {self.unsigned_tail} after the last checkpoint (linked, unsigned)" if self.unsigned_tail else "")
            + (f", {self.redacted} redacted links (content withheld)" if self.redacted else "")
            + (
                f", {self.unanchored} tied to a checkpoint only through redacted links (the exporter's word)"
                if self.unanchored
                else ""
            )
        )
        if self.ok:
            return f"OK: {head}"
        seq, why = self.problems[0]
        return f"FAILED at seq {seq}: {why}\n{head}; {len(self.problems)} problem(s)"


def entry_from_payload(payload: Mapping[str, Any]) -> Entry:
    """An entry as a consumer receives it: the published event with its ``hash`` and ``prev_hash``."""
    hash_hex, prev = str(payload.get("hash", "")), str(payload.get("prev_hash", ""))
    if payload.get("redacted") is True:
        return Entry(int(payload["seq"]), {}, hash_hex, prev, redacted=True)
    return Entry(int(payload["seq"]), entry_of(payload), hash_hex, prev, int(payload.get("gap_before", 0)))


def verify(
    entries: Iterable[Entry],
    checkpoints: Iterable[Mapping[str, Any]],
    public: Ed25519PublicKey,
    complete: bool = True,
) -> Verdict:
    """``entries`` in any order (duplicates allowed); ``checkpoints`` in order of seq; ``public``: the key of
    the first checkpoint (later keys come from rotations). ``complete``: the entries should have no gap
    (a local journal; a capture of every event)."""
    collecting = gc.isenabled()
    gc.disable()  # a million entries held at once: the collector would rescan them again and again, for no cycle
    try:
        return _verify(entries, checkpoints, public, complete)
    finally:
        if collecting:
            gc.enable()


def _verify(
    entries: Iterable[Entry], checkpoints: Iterable[Mapping[str, Any]], public: Ed25519PublicKey, complete: bool
) -> Verdict:
    verdict = Verdict()
    by_seq: dict[int, Entry] = {}
    for entry in entries:
        seen = by_seq.get(entry.seq)
        if seen is None:
            by_seq[entry.seq] = entry
        elif seen == entry or _same_link(seen, entry):
            verdict.duplicates += 1
            if seen.redacted:
                by_seq[entry.seq] = entry  # the content, where one copy has it
        else:
            verdict.problems.append((entry.seq, "two different entries under one seq"))
    seqs = sorted(by_seq)
    verdict.entries = len(seqs)
    if seqs:
        verdict.first_seq, verdict.last_seq = seqs[0], seqs[-1]
    anchors = _checkpoints(checkpoints, public, by_seq, verdict)
    if complete and seqs and anchors and max(anchors) > seqs[-1]:
        verdict.problems.append(
            (max(anchors), f"a checkpoint covers seq {max(anchors)}, the entries end at {seqs[-1]} (truncated)")
        )
    previous: Entry | None = None
    for seq in seqs:
        entry = by_seq[seq]
        if entry.redacted:
            verdict.redacted += 1
            if not (_is_hash(entry.hash) and _is_hash(entry.prev_hash)):
                verdict.problems.append((seq, "a redacted link without a well-formed hash and prev_hash"))
        elif not _is_hash(entry.prev_hash) or not _matches(entry):
            verdict.problems.append((seq, "the entry does not match its hash (changed after it was written)"))
        if previous is not None and previous.seq == seq - 1:
            if entry.prev_hash != previous.hash:
                why = f"prev_hash does not link to seq {seq - 1} (removed, inserted or swapped)"
                verdict.problems.append((seq, why))
        elif previous is not None:
            missing = seq - 1 - previous.seq
            if entry.gap_before >= missing:
                verdict.announced_missing += missing
            elif complete:
                verdict.problems.append((seq, f"seq {previous.seq + 1}-{seq - 1} missing"))
        elif seq == 1 and entry.prev_hash != GENESIS.hex():
            verdict.problems.append((seq, "the first entry does not start from the genesis hash"))
        elif seq > 1 and seq - 1 in anchors and anchors[seq - 1] != entry.prev_hash:
            verdict.problems.append((seq, f"prev_hash differs from the checkpoint at seq {seq - 1}"))
        previous = entry
    last_signed = max(anchors, default=0)
    verdict.unsigned_tail = sum(1 for s in seqs if s > last_signed)
    verdict.unanchored = _unanchored(by_seq, seqs, anchors) if verdict.redacted else 0
    verdict.problems.sort(key=lambda p: p[0])
    return verdict


def _checkpoints(
    checkpoints: Iterable[Mapping[str, Any]],
    public: Ed25519PublicKey,
    by_seq: Mapping[int, Entry],
    verdict: Verdict,
) -> dict[int, str]:
    """Checks each checkpoint's signature (following rotations) and its hash against the entry at its seq;
    returns seq -> hash of those that verify."""
    anchors: dict[int, str] = {}
    key = public
    for cp in sorted(checkpoints, key=lambda c: int(c.get("seq", 0))):
        seq = int(cp.get("seq", 0))
        why = check(cp, key)
        if why is not None:
            verdict.problems.append((seq, why))
            continue
        verdict.checkpoints += 1
        entry = by_seq.get(seq)
        if entry is not None and entry.hash != cp["hash"]:
            verdict.problems.append((seq, "the entry's hash differs from the signed checkpoint"))
        anchors[seq] = str(cp["hash"])
        if cp.get("next_key"):
            loaded = load_pem_public_key(str(cp["next_key"]).encode())
            if isinstance(loaded, Ed25519PublicKey):
                key = loaded
            else:
                verdict.problems.append((seq, "next_key is not an Ed25519 public key"))
    return anchors


def _matches(entry: Entry) -> bool:
    """The entry's hash is SHA-256(prev_hash || canonical bytes of its body)."""
    prev, body = bytes.fromhex(entry.prev_hash), entry.body
    if type(body) is StoredBody:
        if hashlib.sha256(prev + body.canonical).hexdigest() == entry.hash:
            return True  # the stored bytes are canonical: encoding their parse again gives the same bytes
        body = body._parsed()
    return link(prev, body).hex() == entry.hash


def _same_link(a: Entry, b: Entry) -> bool:
    """A redacted link and the entry it stands for."""
    return (a.redacted or b.redacted) and (a.seq, a.hash, a.prev_hash) == (b.seq, b.hash, b.prev_hash)


def _unanchored(by_seq: Mapping[int, Entry], seqs: list[int], anchors: Mapping[int, str]) -> int:
    """Entries with content, at or before the last checkpoint, whose hash reaches no checkpoint through
    entries with content: walking down from each checkpoint, a redacted link or a missing seq cuts the way."""
    last_signed = max(anchors, default=0)
    count, anchored = 0, False
    for seq in reversed(seqs):
        if seq > last_signed:
            continue
        entry = by_seq[seq]
        if seq in anchors:
            anchored = True
        elif seq + 1 not in by_seq:
            anchored = False
        if not entry.redacted and not anchored:
            count += 1
        if entry.redacted:
            anchored = False  # its hash is not computed from content: the entry before it is not bound
    return count


def _is_hash(text: str) -> bool:
    return _HASH.fullmatch(text) is not None
