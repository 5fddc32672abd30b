"""Scans in, ``scanned`` and ``exception`` events out; fusion with the RFID tags at the same location.

Plain logic on the main loop's thread with the clock passed in, like ``gateway.core.pipeline``. Per scan:

1. location: the scanner's read point says where it is (a scanner belongs to one location);
2. dedupe: the same data from the same scanner within its ``dedupe_window`` of the previous one is
   counted in ``duplicates``, not sent (a fixed scanner in continuous mode reads a label many times);
3. ``scanned`` event with the barcode (data, symbology, GS1 fields) and its pure identity ``uri``;
4. fusion, where the location also has RFID read points: a tag with the same ``uri`` read there within
   ``pipeline.match_window`` before the scan -> ``matched_epc`` (and ``epc``). An SSCC without such a
   tag is checked again ``match_window`` after the scan (the pallet may be scanned before it passes the
   portal); still no tag -> an ``exception`` event with ``reason: "barcode_without_tag"``: its tag is
   missing or dead.

Tags are looked up in the presence tracker (visits keep their last read) and in the departed events of
the last ``match_window``, so the RFID per-read path does no work for scans.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from dataclasses import dataclass

from drivers.scanners.settings import ScannerSettings
from gateway.config import Config
from gateway.core.barcode import Barcode, CompanyPrefixes, parse_barcode
from gateway.core.identity import IdentityCache
from gateway.core.pipeline import PresenceTracker
from gateway.domain.model import LocationEvent, ScanRead, TagRead


@dataclass(slots=True)
class _Pending:
    due: float
    scan: ScanRead
    location: str
    barcode: Barcode


class ScanProcessor:
    """Not thread-safe: the main loop owns it."""

    def __init__(self, config: Config, presence: PresenceTracker, identity: IdentityCache) -> None:
        self._gateway = config.gateway.id
        self._presence = presence
        self._identity = identity
        self._window = config.pipeline.match_window
        gs1 = config.gs1
        self.prefixes = CompanyPrefixes(gs1.company_prefix_lengths, gs1.default_company_prefix_length)
        scanners = {r.name: r for r in config.readers if isinstance(r, ScannerSettings)}  # any scanner type
        self._dedupe = {name: r.dedupe_window for name, r in scanners.items()}
        self._location: dict[str, str] = {}
        self._fused: set[str] = set()  # locations with both RFID and a scanner
        for location in config.locations:
            rfid = False
            for point in location.read_points:
                if point.reader in scanners:
                    self._location[point.reader] = location.name
                else:
                    rfid = True
            if rfid and any(p.reader in scanners for p in location.read_points):
                self._fused.add(location.name)
        self._last: OrderedDict[tuple[str, str], float] = OrderedDict()  # (reader, text) -> last scan
        self._departed: deque[tuple[float, str, str, str]] = deque()  # (last_seen, location, uri, epc)
        self._pending: deque[_Pending] = deque()
        self.duplicates: Counter[str] = Counter()
        self.unplaced: Counter[str] = Counter()  # scans from a scanner that no read point names
        self.scans_total = 0

    def adopt(self, old: ScanProcessor) -> None:
        """After a reload: the counters carry over (they are monotonic)."""
        self.duplicates.update(old.duplicates)
        self.unplaced.update(old.unplaced)
        self.scans_total += old.scans_total

    def dropped(self) -> dict[tuple[str, str], int]:
        """(reader, reason) -> scans that produced no event: ``duplicate`` or ``no_read_point``."""
        out = {(reader, "duplicate"): n for reader, n in self.duplicates.items()}
        out.update({(reader, "no_read_point"): n for reader, n in self.unplaced.items()})
        return out

    @property
    def active(self) -> bool:
        return bool(self._dedupe)

    @staticmethod
    def split(batches: list[list[TagRead]]) -> tuple[list[list[TagRead]], list[list[TagRead]]]:
        """(tag batches, scan batches): a driver's batch is all tag reads or all scans."""
        tags: list[list[TagRead]] = []
        scans: list[list[TagRead]] = []
        for batch in batches:
            (scans if batch and type(batch[0]) is ScanRead else tags).append(batch)
        return tags, scans

    def process(
        self, scan_batches: list[list[TagRead]], tag_events: list[LocationEvent], now: float
    ) -> list[LocationEvent]:
        """Events for these scans, and exceptions that fall due at ``now``. ``tag_events``: this turn's
        RFID events (departed ones keep a tag findable for ``match_window``)."""
        window = self._window
        for event in tag_events:
            if event.type == "departed" and event.uri and event.location in self._fused:
                self._departed.append((event.last_seen, event.location, event.uri, event.epc))
        events: list[LocationEvent] = []
        for batch in scan_batches:
            for read in batch:
                if isinstance(read, ScanRead):
                    self._scan(read, events)
        if self._pending:
            # Checked every turn, not only when due: a tag read once (a candidate) is forgotten by the
            # tracker after arrive_window, and one read is enough to show the tag works.
            still: deque[_Pending] = deque()
            for pending in self._pending:
                if self._match(pending.location, pending.barcode.uri, pending.scan.time - window) is not None:
                    continue
                if pending.due <= now:
                    events.append(self._event("exception", pending.scan, pending.location, pending.barcode, None))
                else:
                    still.append(pending)
            self._pending = still
        self._forget(now)
        return events

    def _scan(self, scan: ScanRead, events: list[LocationEvent]) -> None:
        self.scans_total += 1
        location = self._location.get(scan.reader)
        if location is None:
            self.unplaced[scan.reader] += 1
            return
        key = (scan.reader, scan.text)
        last = self._last.get(key)
        self._last[key] = scan.time
        self._last.move_to_end(key)
        if last is not None and scan.time - last < self._dedupe.get(scan.reader, 0.0):
            self.duplicates[scan.reader] += 1
            return
        barcode = parse_barcode(scan.text, self.prefixes)
        matched = None
        if barcode.uri is not None and location in self._fused:
            matched = self._match(location, barcode.uri, scan.time - self._window)
            if matched is None and barcode.gs1 is not None and "00" in barcode.gs1:
                self._pending.append(_Pending(scan.time + self._window, scan, location, barcode))
        events.append(self._event("scanned", scan, location, barcode, matched))

    def _match(self, location: str, uri: str | None, since: float) -> str | None:
        """The EPC of a tag with ``uri`` read at ``location`` at or after ``since``, if any."""
        if uri is None:
            return None
        identity = self._identity
        for epc, last_seen in self._presence.seen_at(location):
            if last_seen >= since and identity.uri(epc) == uri:
                return epc
        for last_seen, where, tag_uri, epc in self._departed:
            if where == location and tag_uri == uri and last_seen >= since:
                return epc
        return None

    def _forget(self, now: float) -> None:
        horizon = now - 2 * self._window
        while self._departed and self._departed[0][0] < horizon:
            self._departed.popleft()
        longest = max(self._dedupe.values(), default=0.0)
        while self._last:
            key, seen = next(iter(self._last.items()))
            if seen >= now - longest:
                break
            del self._last[key]

    def _event(self, kind: str, scan: ScanRead, location: str, barcode: Barcode, matched: str | None) -> LocationEvent:
        event = LocationEvent(
            type=kind,
            time=scan.time,
            gateway=self._gateway,
            location=location,
            reader=scan.reader,
            epc=matched or "",
            antennas=[],
            reads=1,
            rssi_max=None,
            first_seen=scan.time,
            last_seen=scan.time,
            uri=barcode.uri,
            reason="barcode_without_tag" if kind == "exception" else None,
            extra={"epc": matched, "barcode": barcode.to_payload()},
        )
        if kind == "scanned":
            event.extra["matched_epc"] = matched
        return event
