"""What other threads may know of the running gateway: one immutable snapshot, published by the main
loop at the end of every turn.

The HTTP thread (metrics, health), the demo's screen and anything later (a web page) read
``Gateway.snapshot``, never the parts themselves: the main loop owns every part, and a snapshot is
replaced as a whole (one reference assignment), so a reader sees one consistent turn. Building one costs
a few microseconds per reader and location, once a turn, never per read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gateway.domain.present import PresentList, PresentTag

EMPTY: Mapping[Any, Any] = MappingProxyType({})
__all__ = ["PresentList", "PresentTag"]  # re-exported: what the snapshot shows of each location


@dataclass(frozen=True, slots=True)
class ReadPointFigures:
    """One (reader, antenna): reads seen and when it last read a tag (0.0: never)."""

    reader: str
    antenna: int
    location: str | None  # None: no read point names this antenna (its reads are dropped, counted)
    reads: int
    last_read: float
    rate: float = 0.0  # reads per second, over the last few seconds


@dataclass(frozen=True, slots=True)
class OutboxFigures:
    pending: int = 0
    pending_bytes: int = 0
    oldest_created: float | None = None
    last_seq: int = 0
    added: int = 0
    acknowledged: int = 0
    dropped: Mapping[str, int] = field(default_factory=lambda: EMPTY)  # reason -> events lost
    fault: str | None = None  # why the outbox cannot store events right now
    is_open: bool = False


@dataclass(frozen=True, slots=True)
class JournalFigures:
    """The journal (``gateway.journal``): the newest entry and the newest signed checkpoint."""

    entry_seq: int = 0
    checkpoint_seq: int = 0
    checkpointed_at: float | None = None  # when the newest checkpoint was signed (Unix time)
    signing: bool = False  # a usable signing key is loaded


@dataclass(frozen=True, slots=True)
class BrokerFigures:
    where: str = ""
    connected: bool = False
    in_flight: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class GatewaySnapshot:
    """The gateway as of one main-loop turn. Counters are monotonic over the process's life (a reload
    carries them over)."""

    gateway: str
    taken: float = 0.0  # wall clock of the turn (Unix time): /healthz compares it with now
    started: bool = False
    read_points: tuple[ReadPointFigures, ...] = ()
    reads_filtered: Mapping[str, int] = field(default_factory=lambda: EMPTY)  # reason -> reads
    events: Mapping[tuple[str, str], int] = field(default_factory=lambda: EMPTY)  # (type, location) -> stored
    readers: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: EMPTY)  # name -> retained status
    reconnects: Mapping[str, int] = field(default_factory=lambda: EMPTY)  # reader -> times connected again
    idle_episodes: Mapping[str, int] = field(default_factory=lambda: EMPTY)  # reader -> times it became idle
    scans: int = 0  # scans received from barcode scanners
    scans_dropped: Mapping[tuple[str, str], int] = field(default_factory=lambda: EMPTY)  # (reader, reason) -> scans
    tracked_tags: int = 0
    present_tags: int = 0
    outbox: OutboxFigures = field(default_factory=OutboxFigures)
    broker: BrokerFigures = field(default_factory=BrokerFigures)
    unstored_dropped: int = 0  # events lost because the outbox failed and memory was full too
    shipments: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: EMPTY)  # id -> shipment view
    doors: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: EMPTY)  # location -> door view
    shipment_commands: Mapping[tuple[str, str, str], int] = field(default_factory=lambda: EMPTY)
    shipment_exceptions: Mapping[tuple[str, str], int] = field(default_factory=lambda: EMPTY)  # (location, reason)
    present: Mapping[str, PresentList] = field(default_factory=lambda: EMPTY)  # location -> present now
    recent_events: tuple[Mapping[str, Any], ...] = ()  # the last events stored (payloads, with seq), oldest first
    reports: tuple[Mapping[str, Any], ...] = ()  # the last period's reports (payloads), one per owner and location
    owners: tuple[str, ...] = ()  # owner names, unassigned last
    journal: JournalFigures | None = None  # None: journal.enabled is false

    def readiness_problems(self) -> list[str]:
        """Empty when ready: outbox open and writable, readers started."""
        problems = []
        if not self.outbox.is_open:
            problems.append("outbox not open")
        if self.outbox.fault:
            problems.append(f"outbox failing: {self.outbox.fault}")
        if not self.started:
            problems.append("readers not started")
        return problems
