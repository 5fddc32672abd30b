"""The main loop's report work: reader connected time, and the ``report`` events of each period.

``turn(now, readers)`` is called once per main-loop turn, before the turn's events are stored:

- it adds the time since the previous turn to each reader whose status is ``connected`` (the state seen
  at a turn is taken for the whole interval before it, at most 10 s of it), and once a minute writes the
  finished minutes to the report store in a transaction of their own. What the current minute holds in
  memory is lost at a crash: at most a minute of connected time per reader (``close`` writes it at a
  clean stop).
- at each period boundary (multiples of ``reports.report_every`` since the epoch, so every full hour for
  3600 s) it returns one ``report`` event per (owner, location) with events stored in the period ended
  (``gateway.reports.report``). They are stored through the outbox like every event, and the store
  advances ``reported_to`` in that same transaction, so a restart never reports a period twice and a
  period whose reports were never stored is reported again. A period without any event has no report.
- periods missed while the gateway was down are reported at the next start, at most ``CATCH_UP``
  periods (older ones are logged as skipped; their tallies stay queryable on demand until ``keep``).
- once an hour, tallies older than ``reports.keep`` are forgotten.

``latest`` holds the last period's report payloads for the snapshot (after a restart, summed again from the
tallies of the last period reported). Not thread-safe: the main loop owns it.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping
from typing import Any

from gateway.config import Config
from gateway.delivery.report_store import ReportStore
from gateway.domain.errors import OutboxError
from gateway.domain.log import get_logger
from gateway.domain.model import LocationEvent, rfc3339
from gateway.reports.report import ALL_OWNERS, readers_of, report_event, reports

log = get_logger(__name__)

CATCH_UP = 48  # periods missed while down that are still reported at start, at most
_EXPIRE_EVERY_S = 3600.0
_TURN_MAX_S = 10.0  # a longer interval between turns (a stall, the clock stepped) counts its last 10 s only


class ReportDesk:
    def __init__(self, config: Config, store: ReportStore) -> None:
        self.gateway = config.gateway.id
        self.every = config.reports.report_every
        self.keep = config.reports.keep
        self.readers = readers_of(config)
        self.store = store
        self.latest: tuple[dict[str, Any], ...] = ()
        self._reported_to: float | None = None  # None: not read from the store yet
        self._last_turn: float | None = None
        self._connected: dict[tuple[int, str], float] = {}  # (minute, reader) -> seconds, not written yet
        self._due_at = math.inf  # the next period boundary
        self._expire_at = 0.0

    def turn(self, now: float, readers: Mapping[str, Mapping[str, Any]]) -> list[LocationEvent]:
        """The report events due now (usually none)."""
        self._count_connected(now, readers)
        try:
            if self._reported_to is None:
                self._reported_to = self._start_from(now)
                self._due_at = self._next_boundary(self._reported_to)
            self._write_connected(int(now // 60))
            events = self._due(now) if now >= self._due_at else []
            if now >= self._expire_at:
                self._expire_at = now + _EXPIRE_EVERY_S
                self.store.expire(now - self.keep)
        except (OutboxError, sqlite3.Error) as exc:  # the outbox is not open or failing: next turn again
            log.debug("reports_deferred", error=str(exc))
            return []
        return events

    def reconfigure(self, config: Config) -> None:
        """After a reload: the new period, retention and readers of each location; what was counted and
        reported stays (a new ``report_every`` starts at the next boundary of the new period)."""
        self.every, self.keep, self.readers = config.reports.report_every, config.reports.keep, readers_of(config)
        if self._reported_to is not None:
            self._due_at = self._next_boundary(self._reported_to)

    def close(self, now: float) -> None:
        """At a clean stop: write the connected time counted so far, the current minute's too."""
        try:
            self._write_connected(int(now // 60) + 1)
        except (OutboxError, sqlite3.Error) as exc:
            log.warning("reader_time_unsaved", error=str(exc), detail="up to a minute of connected time is lost")

    def query(self, start: float, end: float, owner: str = ALL_OWNERS) -> list[dict[str, Any]]:
        """On demand, on the main loop's connection: reports over ``[start, end)``, minute granularity (see
        ``gateway.reports.report.reports``). The HTTP API uses its own read-only connection instead."""
        return reports(self.store.connection(), start, end, self.readers, owner)

    # ---- internals ------------------------------------------------------------------------------------

    def _count_connected(self, now: float, readers: Mapping[str, Mapping[str, Any]]) -> None:
        last = self._last_turn
        if last is not None and now <= last:  # behind, the loop's now follows the reads: it may step back
            return
        self._last_turn = now
        if last is None:
            return
        last = max(last, now - _TURN_MAX_S)
        names = [name for name, status in readers.items() if status.get("state") == "connected"]
        if not names:
            return
        t = last
        while t < now:  # split the interval at minute boundaries
            minute = int(t // 60)
            upto = min(now, (minute + 1) * 60.0)
            for name in names:
                key = (minute, name)
                self._connected[key] = self._connected.get(key, 0.0) + (upto - t)
            t = upto

    def _write_connected(self, before_minute: int) -> None:
        done = [(m, r, s) for (m, r), s in self._connected.items() if m < before_minute]
        if done:
            self.store.add_connected(done)
            for m, r, _s in done:
                del self._connected[(m, r)]

    def _start_from(self, now: float) -> float:
        """The end of the last period reported; on a first start the start of the period of the first
        tally (or of now)."""
        reported = self.store.reported_to()
        if reported is not None:  # the board shows the last period's reports again at once
            start = max(reported - self.every, math.floor((reported - 1) / self.every) * self.every)
            self.latest = tuple(reports(self.store.connection(), start, reported, self.readers))
            return reported
        first = self.store.first_minute()
        since = now if first is None else min(now, first * 60.0)
        return math.floor(since / self.every) * self.every

    def _due(self, now: float) -> list[LocationEvent]:
        every = self.every
        end = math.floor(now / every) * every  # the latest boundary passed
        start = self._reported_to if self._reported_to is not None else end
        if end - start > CATCH_UP * every:
            skipped_to = end - CATCH_UP * every
            log.warning(
                "reports_skipped",
                period_from=rfc3339(start),
                period_to=rfc3339(skipped_to),
                detail=f"down for more than {CATCH_UP} periods; GET /api/v1/reports still sums them",
            )
            start = skipped_to
        events: list[LocationEvent] = []
        latest: list[dict[str, Any]] = []
        while start < end:
            upto = min(end, self._next_boundary(start))
            latest = reports(self.store.connection(), start, upto, self.readers)
            events += [report_event(self.gateway, r, start, upto) for r in latest]
            log.info("reports_due", period_from=rfc3339(start), period_to=rfc3339(upto), reports=len(latest))
            start = upto
        if not events:
            self.store.mark(end)  # nothing to carry the mark through the outbox
        self._reported_to, self._due_at = end, self._next_boundary(end)
        self.latest = tuple(latest)
        return events

    def _next_boundary(self, after: float) -> float:
        return (math.floor(after / self.every) + 1) * self.every
