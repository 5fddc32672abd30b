"""The arithmetic of retention: how big an outbox row is, how a row is marked with ``gap_before`` (how
many seq values just before it will never be delivered), and how dropped seqs are written in a log line."""

from __future__ import annotations

import json

# A row's size for max_bytes: the event and, when there is one, its EPCIS document.
SIZE = "length(payload) + coalesce(length(epcis_payload), 0)"
Row = tuple[int, str, str, bytes, float, str | None, bytes | None]
"""(seq, id, topic, payload, created, epcis_topic, epcis_payload), as stored"""


def row_size(row: Row) -> int:
    return len(row[3]) + len(row[6] or b"")


def with_gap(row: Row, gap: int) -> Row:
    payload = json.loads(row[3])
    payload["gap_before"] = payload.get("gap_before", 0) + gap
    return (row[0], row[1], row[2], json.dumps(payload, separators=(",", ":")).encode(), row[4], row[5], row[6])


def seq_ranges(seqs: list[int]) -> str:
    """``[1,2,3,7,8]`` -> ``1-3,7-8``."""
    out: list[str] = []
    start = prev = seqs[0]
    for seq in seqs[1:]:
        if seq != prev + 1:
            out.append(f"{start}-{prev}" if start != prev else str(start))
            start = seq
        prev = seq
    out.append(f"{start}-{prev}" if start != prev else str(start))
    return ",".join(out)
