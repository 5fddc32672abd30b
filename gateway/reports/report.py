"""A report: what happened at one location to one owner's goods over a period, summed from the report
store's per-minute tallies (``gateway.delivery.report_store``).

Fields of a report (the ``report`` event's own fields, and each item of ``GET /api/v1/reports``):

- ``period_from``, ``period_to``: the period, RFC 3339 UTC, ``[from, to)``. Tallies are per minute, by the
  minute an event was stored: a minute belongs to the period its start falls in.
- ``owner``: whose goods (null: events about no tag: a door's no_read, the verdict on a shipment of several
  owners' goods; a shipment of one owner's goods is that owner's); ``location``.
- ``arrived``, ``departed_in``, ``departed_out``, ``departed_unknown`` (departed without a direction),
  ``became_static`` (static events), ``scanned``: events of that type; ``exceptions``: ``{reason: count}``;
  ``shipments_verified``, ``shipments_failed``: shipment_verified and shipment_exception events.
- ``readers``: ``{reader: seconds connected in the period}``, the readers of the location's read points.
- ``first_seq``, ``last_seq``, ``events``: the seq range of every event the gateway stored in the period
  (all owners and locations, reports included) and how many it stored. A consumer has every event behind
  the report when it holds every seq in the range but those announced lost by ``gap_before``;
  ``last_seq - first_seq + 1 - events`` are seqs that were never stored (rejected by ``reject_new``).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.config import Config
from gateway.delivery.report_store import TOTAL
from gateway.domain.model import LocationEvent, rfc3339

_COUNTS = {
    "arrived": "arrived",
    "departed_in": "departed_in",
    "departed_out": "departed_out",
    "departed": "departed_unknown",
    "static": "became_static",
    "scanned": "scanned",
    "shipment_verified": "shipments_verified",
    "shipment_exception": "shipments_failed",
}
REPORT_FIELDS = (
    "period_from",
    "period_to",
    *_COUNTS.values(),
    "exceptions",
    "readers",
    "first_seq",
    "last_seq",
    "events",
)  # a report event's own fields (beside owner, location and the event's envelope)
ALL_OWNERS = "*"  # the owner filter that lets every row through, null owners too


@dataclass(frozen=True, slots=True)
class ReportSource:
    """What the HTTP API needs to answer ``GET /api/v1/reports``: the outbox file (read through a read-only
    connection of its own) and the readers of each location."""

    outbox: Path
    readers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, config: Config) -> ReportSource:
        return cls(config.outbox.path, readers_of(config))


def readers_of(config: Config) -> dict[str, tuple[str, ...]]:
    """location -> the readers of its read points, in config order."""
    return {loc.name: tuple(dict.fromkeys(point.reader for point in loc.read_points)) for loc in config.locations}


def reports(
    db: sqlite3.Connection,
    start: float,
    end: float,
    readers: Mapping[str, tuple[str, ...]],
    owner: str = ALL_OWNERS,
) -> list[dict[str, Any]]:
    """One report per (owner, location) with events stored in ``[start, end)``, by location, then owner
    (null last); ``owner``: only that owner's (``ALL_OWNERS``: everyone's, null owners too). Empty when
    nothing was stored in the period."""
    lo, hi = math.ceil(start / 60), math.ceil(end / 60)
    sql = (
        "SELECT owner, location, kind, sum(count), min(first_seq), max(last_seq) FROM report_tally "
        "WHERE minute >= ? AND minute < ?"
    )
    params: tuple[Any, ...] = (lo, hi)
    if owner != ALL_OWNERS:
        sql, params = sql + " AND owner IN (?, ?)", (*params, owner, TOTAL)
    rows = db.execute(sql + " GROUP BY owner, location, kind", params).fetchall()
    total = next(((int(r[3]), int(r[4]), int(r[5])) for r in rows if r[0] == TOTAL), None)
    if total is None:
        return []
    connected = {
        str(reader): float(seconds)
        for reader, seconds in db.execute(
            "SELECT reader, sum(connected_s) FROM report_readers WHERE minute >= ? AND minute < ? GROUP BY reader",
            (lo, hi),
        )
    }
    events, first_seq, last_seq = total
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for who, location, kind, count, _first, _last in rows:
        if who == TOTAL:
            continue
        report = out.get((location, who))
        if report is None:
            names = readers.get(location) or tuple(sorted(connected))
            report = out[(location, who)] = {
                "period_from": rfc3339(start),
                "period_to": rfc3339(end),
                "owner": who or None,
                "location": location,
                **dict.fromkeys(_COUNTS.values(), 0),
                "exceptions": {},
                "readers": {name: round(connected.get(name, 0.0), 3) for name in names},
                "first_seq": first_seq,
                "last_seq": last_seq,
                "events": events,
            }
        if kind.startswith("exception:"):
            report["exceptions"][kind.partition(":")[2]] = int(count)
        elif kind in _COUNTS:
            report[_COUNTS[kind]] += int(count)
    return [out[key] for key in sorted(out, key=lambda k: (k[0], k[1] == "", k[1]))]  # null owners last


def report_event(gateway: str, report: Mapping[str, Any], start: float, end: float) -> LocationEvent:
    """The ``report`` event that publishes ``report`` (time, first_seen, last_seen: the period's end, start
    and end; the store takes ``last_seen`` as the period reported)."""
    fields = {k: v for k, v in report.items() if k not in ("owner", "location")}
    return LocationEvent(
        type="report",
        time=end,
        gateway=gateway,
        location=str(report["location"]),
        reader="",
        epc="",
        antennas=[],
        reads=0,
        rssi_max=None,
        first_seen=start,
        last_seen=end,
        owner=report["owner"],
        extra={"reader": None, "epc": None, **fields},
    )
