"""``GET /api/v1/reports?from=RFC3339&to=RFC3339&owner=NAME``: reports on demand, summed from the report
store's per-minute tallies over ``[from, to)`` (``from`` rounded down, ``to`` up to the minute; at most
``MAX_RANGE_DAYS``).

Never the main loop's SQLite connection: a read-only connection of its own to the outbox file (WAL lets
it read while the main loop writes), opened at the first request and shared by the request threads under
a lock. An owner-scoped token sees only its owner's reports (another ``owner`` is a 403).
"""

from __future__ import annotations

import math
import sqlite3
import threading
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request

from gateway.api.context import Api, Refusal
from gateway.domain.model import rfc3339
from gateway.reports.report import ALL_OWNERS, ReportSource, reports

MAX_RANGE_DAYS = 31


class _ReadOnly:
    """The API's own read-only connection to the outbox file."""

    def __init__(self, source: ReportSource) -> None:
        self.source = source
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def reports(self, start: float, end: float, owner: str) -> list[dict[str, Any]]:
        with self._lock:
            try:
                if self._db is None:
                    uri = f"file:{self.source.outbox}?mode=ro"
                    self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
                return reports(self._db, start, end, self.source.readers, owner)
            except sqlite3.Error as exc:
                if self._db is not None:
                    self._db.close()
                    self._db = None
                raise Refusal(503, f"cannot read the report tallies in {self.source.outbox}: {exc}") from None


def _time(text: str | None, name: str) -> float:
    if not text:
        raise Refusal(422, f"{name}: required, an RFC 3339 time such as 2026-12-04T08:00:00Z", name)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise Refusal(422, f"{name}: {text!r} is not an RFC 3339 time (2026-12-04T08:00:00Z)", name) from None
    if when.tzinfo is None:
        raise Refusal(422, f"{name}: {text!r} has no UTC offset; add Z or +01:00", name)
    return when.timestamp()


def install(app: FastAPI, api: Api) -> None:
    source = api.extra.get("reports")
    store = _ReadOnly(source) if isinstance(source, ReportSource) else None

    @app.get("/api/v1/reports")
    def get_reports(request: Request) -> Any:
        holder = api.caller(request, write=False)
        params = request.query_params
        start = math.floor(_time(params.get("from"), "from") / 60) * 60.0
        end = math.ceil(_time(params.get("to"), "to") / 60) * 60.0
        if end <= start:
            raise Refusal(422, "to: must be after from", "to")
        if end - start > MAX_RANGE_DAYS * 86400:
            raise Refusal(422, f"to: a range spans at most {MAX_RANGE_DAYS} days; ask in parts", "to")
        owner = params.get("owner")
        if holder.owner is not None:
            if owner is not None and owner != holder.owner:
                raise Refusal(403, f"token {holder.name!r} sees only owner {holder.owner!r}", "owner")
            owner = holder.owner
        elif owner is not None and owner not in api.owners.names:
            raise Refusal(404, f"no owner {owner!r} (owners: {', '.join(api.owners.names)})", "owner")
        if store is None:
            raise Refusal(503, "reports are not available: the API was started without the outbox")
        return {
            "gateway": api.snapshot().gateway,
            "from": rfc3339(start),
            "to": rfc3339(end),
            "owner": owner,
            "reports": store.reports(start, end, owner or ALL_OWNERS),
        }
