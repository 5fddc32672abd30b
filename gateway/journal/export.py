"""Exports of the journal for audits (``dockgate journal export``; docs/traceability.md, Exports).

The *selection* is every event whose ``time`` is in ``[start, end)`` (inclusive from, exclusive to) and,
with an owner, whose ``owner`` is that owner. The *segment* is the stretch of the chain that makes the
selection verifiable offline: from just after the last checkpoint before the first selected seq (else
from the first entry kept) to the first checkpoint at or after the last selected seq (else to the last
selected seq: the unsigned tail). Every seq of the segment is exported, so the chain has no gap; an
entry of another owner (with an owner given) only as a *redacted link*: its seq, hash and prev_hash,
never its content. The checkpoints that cover the segment come with it, and those before it that
announce a key, so a verifier that trusts the first key follows the rotations.

``jsonl`` writes the segment (events with ``hash`` and ``prev_hash`` added back, redacted links,
checkpoints) and verifies with ``dockgate journal verify --events FILE --public-key KEY``; ``csv`` and
``epcis`` write the selection only, with each event's seq and hash.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TextIO

from gateway.config.locations import EpcisSettings
from gateway.delivery.epcis import ACTOR_FIELDS, CONTEXT, EXTENSION_NAMESPACE, document, object_event
from gateway.domain.errors import DockgateError
from gateway.domain.model import LocationEvent
from gateway.journal.store import JournalStore
from gateway.journal.verify import Entry

FORMATS: Final = ("jsonl", "csv", "epcis")
CSV_COLUMNS: Final = (
    "seq",
    "time",
    "type",
    "location",
    "owner",
    "epc",
    "uri",
    "direction",
    "reader",
    "operator",
    "vehicle",
    "hash",
    "prev_hash",
)


class ExportError(DockgateError):
    """An export that cannot be made; the message says why and what to give instead."""


def parse_time(text: str, name: str) -> float:
    """An RFC 3339 time with its offset (``2026-12-04T08:00:00Z``) as epoch seconds."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ExportError(f"{name}: {text!r} is not an RFC 3339 time (2026-12-04T08:00:00Z)") from None
    if when.tzinfo is None:
        raise ExportError(f"{name}: {text!r} has no UTC offset; add Z (or +01:00)")
    return when.timestamp()


@dataclass(frozen=True, slots=True)
class Selection:
    start: float  # inclusive, epoch seconds
    end: float  # exclusive
    owner: str | None = None

    def holds(self, body: Mapping[str, Any]) -> bool:
        if self.owner is not None and body.get("owner") != self.owner:
            return False
        try:
            when = datetime.fromisoformat(str(body.get("time"))).timestamp()
        except ValueError:
            return False
        return self.start <= when < self.end


@dataclass
class Export:
    selection: Selection
    segment: list[Entry] = field(default_factory=list)  # every seq from the first to the last exported
    selected: set[int] = field(default_factory=set)  # seqs of the selection
    checkpoints: list[dict[str, Any]] = field(default_factory=list)

    def redacts(self, entry: Entry) -> bool:
        """Another owner's entry, in an export for one owner."""
        owner = self.selection.owner
        return owner is not None and entry.body.get("owner") != owner

    def events(self) -> Iterator[tuple[Entry, dict[str, Any]]]:
        """The selection in seq order: (entry, payload with hash and prev_hash)."""
        for entry in self.segment:
            if entry.seq in self.selected:
                yield entry, payload_of(entry)


def payload_of(entry: Entry) -> dict[str, Any]:
    return {**dict(entry.body), "hash": entry.hash, "prev_hash": entry.prev_hash}


def collect(store: JournalStore, selection: Selection) -> Export:
    """The selection and the segment of the chain that covers it (empty when nothing is selected)."""
    out = Export(selection)
    first_kept: int | None = None
    for entry in store.entries():
        first_kept = entry.seq if first_kept is None else first_kept
        if selection.holds(entry.body):
            out.selected.add(entry.seq)
    if not out.selected or first_kept is None:
        return out
    first, last = min(out.selected), max(out.selected)
    checkpoints = store.checkpoints()
    before = [cp for cp in checkpoints if int(cp["seq"]) < first]
    after = [cp for cp in checkpoints if int(cp["seq"]) >= last]
    anchor = int(before[-1]["seq"]) if before else first_kept - 1
    end = int(after[0]["seq"]) if after else last
    out.segment = list(store.entries(anchor + 1, end))
    out.checkpoints = [
        cp for cp in checkpoints if anchor <= int(cp["seq"]) <= end or (int(cp["seq"]) < anchor and cp.get("next_key"))
    ]
    return out


# ---- formats -----------------------------------------------------------------------------------------------


def write_jsonl(export: Export, out: TextIO) -> None:
    """The segment in seq order, each checkpoint after the entry it signs: one JSON object a line."""
    checkpoints = iter(export.checkpoints)
    pending = next(checkpoints, None)
    for entry in export.segment:
        while pending is not None and int(pending["seq"]) < entry.seq:
            out.write(_line(pending))
            pending = next(checkpoints, None)
        if export.redacts(entry):
            out.write(_line({"seq": entry.seq, "hash": entry.hash, "prev_hash": entry.prev_hash, "redacted": True}))
        else:
            out.write(_line(payload_of(entry)))
    while pending is not None:
        out.write(_line(pending))
        pending = next(checkpoints, None)


def write_csv(export: Export, out: TextIO) -> None:
    """One row per selected event, RFC 4180 (CRLF, quoted where needed); null as an empty field."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for _entry, payload in export.events():
        writer.writerow([_cell(payload.get(c)) for c in CSV_COLUMNS])


def _cell(value: Any) -> Any:
    """null as an empty field; an actor (operator, vehicle) by its name."""
    if value is None:
        return ""
    return value["name"] if isinstance(value, dict) and "name" in value else value


def epcis_document(
    export: Export, settings_of: Callable[[str], EpcisSettings | None], doc_id: str, created: float
) -> dict[str, Any]:
    """One EPCISDocument: an ObjectEvent per selected event that has an EPCIS form (as the EPCIS renderer
    makes them, without the shipment's business transaction), with ``dockgate:seq``, ``dockgate:hash``
    and ``dockgate:prevHash`` from the journal."""
    events = []
    for _entry, payload in export.events():
        event = _location_event(payload)
        found = object_event(event, settings_of(event.location) or EpcisSettings()) if event else None
        if found is None:
            continue
        # after eventID: the extension is not part of the event hash
        found.update({"dockgate:seq": payload["seq"], "dockgate:hash": payload["hash"]})
        found["dockgate:prevHash"] = payload["prev_hash"]
        events.append(found)
    doc = document(events, doc_id, created)
    doc["@context"] = [CONTEXT, {"dockgate": EXTENSION_NAMESPACE}]
    return doc


def _location_event(payload: Mapping[str, Any]) -> LocationEvent | None:
    """The event behind a journal payload, for the EPCIS rendering; None without a tag."""
    try:
        return LocationEvent(
            type=str(payload["type"]),
            time=_epoch(payload["time"]),
            gateway=str(payload["gateway"]),
            location=str(payload["location"]),
            reader=str(payload.get("reader") or ""),
            epc=str(payload.get("epc") or ""),
            antennas=list(payload.get("antennas") or []),
            reads=int(payload.get("reads") or 0),
            rssi_max=payload.get("rssi_max"),
            first_seen=_epoch(payload.get("first_seen") or payload["time"]),
            last_seen=_epoch(payload.get("last_seen") or payload["time"]),
            uri=payload.get("uri"),
            direction=payload.get("direction"),
            owner=payload.get("owner"),
            extra={kind: payload[kind] for kind in ACTOR_FIELDS if payload.get(kind)},
            id=str(payload.get("id", "")),
            seq=int(payload["seq"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _epoch(text: Any) -> float:
    return datetime.fromisoformat(str(text)).timestamp()


def _line(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"
