"""Storing events: into the outbox when it works, in memory while it does not.

The outbox can fail at run time (a full disk, an I/O error) or not open at all. The gateway goes on:
events wait here in memory (bounded by the outbox's own ``max_events``; beyond that the oldest are lost,
counted and logged at CRITICAL), the failure is alarmed at once and then once a minute, opening is tried
again every few seconds, and everything held is stored, in order, as soon as the outbox works again.
Also the outbox's housekeeping: expiry by age, and refreshing the presence table now and then.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence

from gateway.delivery.outbox import Outbox
from gateway.delivery.shipment_store import ShipmentRow
from gateway.domain.errors import OutboxError
from gateway.domain.log import get_logger
from gateway.domain.model import LocationEvent, PresenceRow
from gateway.journal.checkpointer import Checkpointer

log = get_logger(__name__)

_REOPEN_S = 5.0
_ALARM_EVERY_S = 60.0
_EXPIRE_EVERY_S = 1.0
PRESENCE_REFRESH_S = 30.0  # how stale a present tag's last_seen may be after a crash

TopicOf = Callable[[LocationEvent], str]
EpcisOf = Callable[[LocationEvent], tuple[str, bytes] | None]


class Storage:
    """Owns the outbox and what could not be stored yet. Not thread-safe: the main loop owns it."""

    def __init__(self, outbox: Outbox, gateway_id: str, checkpointer: Checkpointer | None = None) -> None:
        self.outbox = outbox
        self.checkpointer = checkpointer
        self._gateway = gateway_id
        self.fault: str | None = None  # why the outbox cannot store events right now
        self.held: list[LocationEvent] = []  # events the outbox could not store yet, oldest first
        self.held_shipments: dict[str, ShipmentRow] = {}  # shipment changes not stored yet, by id
        self.unstored_dropped = 0  # events lost because the outbox was failing and memory was full too
        self.oldest_created: float | None = None
        self._reopen_at = 0.0
        self._alarmed_at = -1e9
        self._expire_at = 0.0
        self._presence_saved_at = time.monotonic()
        self._ever_opened = False

    def open(self) -> bool:
        """Open the outbox when it is closed and a retry is due. True only on the first successful open
        of this process: the caller restores presence from it then."""
        outbox = self.outbox
        if outbox.is_open or time.monotonic() < self._reopen_at:
            return False
        try:
            outbox.open()
        except OutboxError as exc:
            self._reopen_at = time.monotonic() + _REOPEN_S
            self._failing(exc)
            return False
        first, self._ever_opened = not self._ever_opened, True
        return first

    def store(
        self,
        events: list[LocationEvent],
        topic_of: TopicOf,
        epcis_of: EpcisOf | None,
        protect_through: int,
        shipments: Sequence[ShipmentRow] = (),
    ) -> list[LocationEvent]:
        """Store what is held and ``events`` (with the turn's shipment changes); return the events stored
        now (each with its seq), in order."""
        if self.held:
            events = self.held + events
            self.held = []
        if self.held_shipments or shipments:
            self.held_shipments.update((row[0], row) for row in shipments)
        if not events and not self.held_shipments:
            return []
        outbox = self.outbox
        try:
            if not outbox.is_open:
                raise OutboxError(self.fault or "outbox is not open")
            rows = list(self.held_shipments.values())
            outbox.append(events, topic_of, protect_through=protect_through, epcis_of=epcis_of, shipments=rows)
            self.held_shipments.clear()
        except OutboxError as exc:
            limit = outbox.settings.max_events
            if len(events) > limit:
                lost = len(events) - limit
                self.unstored_dropped += lost
                log.critical("unstored_events_dropped", gateway=self._gateway, count=lost)
                events = events[lost:]
            self.held = events
            if outbox.is_open or self.fault is None:
                self._failing(exc)
            return []
        if self.fault is not None:
            log.warning("outbox_recovered", gateway=self._gateway, stored=len(events))
            self.fault = None
        return events

    def housekeeping(self, now: float, protect_through: int, presence: Callable[[], list[PresenceRow]]) -> None:
        """Expire rows past ``max_age`` (not those in flight) and refresh the presence table when due."""
        outbox = self.outbox
        if not outbox.is_open:
            return
        if time.monotonic() - self._presence_saved_at >= PRESENCE_REFRESH_S:
            self.save_presence(presence())
        if now >= self._expire_at:
            self._expire_at = now + _EXPIRE_EVERY_S
            outbox.expire(now, protect_through=protect_through)
            self.oldest_created = outbox.oldest_created()

    def checkpoint(self, now: float, connects: int, publish: Callable[[bytes], None] | None) -> None:
        """The journal's signed checkpoint, when one is due (``gateway.journal.checkpointer``)."""
        outbox, checkpointer = self.outbox, self.checkpointer
        if checkpointer is None or outbox.journal is None or not outbox.is_open:
            return
        try:
            checkpointer.turn(now, outbox.journal, outbox.write, connects, publish)
        except (sqlite3.Error, OutboxError) as exc:
            log.error("journal_checkpoint_failed", error=str(exc), detail="tried again at the next turn")

    def save_presence(self, rows: list[PresenceRow]) -> None:
        self._presence_saved_at = time.monotonic()
        if self.outbox.is_open:
            self.outbox.presence.refresh(rows)

    def close(self) -> None:
        pending = self.outbox.pending_count()
        self.outbox.close()
        if self.held:
            log.critical(
                "stopped_with_unstored_events",
                gateway=self._gateway,
                count=len(self.held),
                detail="the outbox could not store them",
            )
        log.info("stopped", pending=pending, gateway=self._gateway)

    def _failing(self, exc: OutboxError) -> None:
        """Alarm loudly on the first failure, then once a minute while it lasts; the gateway goes on."""
        first = self.fault is None
        self.fault = str(exc)
        if first or time.monotonic() - self._alarmed_at >= _ALARM_EVERY_S:
            self._alarmed_at = time.monotonic()
            log.critical(
                "outbox_failing",
                gateway=self._gateway,
                held_in_memory=len(self.held),
                error=str(exc),
                detail="events are kept in memory and stored when the outbox works again (disk full? check free space)",
            )
