"""What flows through the gateway: tag reads and scans in, door exceptions from drivers, location events out."""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple


@dataclass(slots=True)
class TagRead:
    """One read of one tag on one antenna, as a driver hands it to the core.

    ``time`` is the gateway's clock when the read arrived (seconds since the epoch): the presence
    logic runs on it so that a reader with a wrong clock cannot break arrivals and departures.
    ``reader_time`` is the reader's own timestamp (LastSeenTimestampUTC), kept for traceability.
    Not frozen: a frozen dataclass costs twice as much to build, and there is one per read.
    """

    reader: str
    antenna: int
    epc: str
    rssi: float | None
    time: float
    reader_time: float | None = None
    seen_count: int = 1


@dataclass(slots=True)
class ScanRead(TagRead):
    """One scan as a scanner driver hands it to the core. It travels on the tag-read queue as a batch of
    its own (never mixed with tag reads), so the main loop tells batches apart once per batch and the
    RFID per-read path never sees a scan. ``epc`` is empty, ``antenna`` 0; ``text`` is what was scanned."""

    text: str = ""


@dataclass(frozen=True, slots=True)
class ReaderException:
    """Something at a door that is an event of its own, e.g. a GPI window without a tag read
    (``reason="no_read"``)."""

    reader: str
    location: str
    reason: str
    time: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class LocationEvent:
    """Something that happened at a location: a tag ``arrived``, ``departed``, or became ``static``.

    ``seq`` is given by the outbox when the event is committed; until then it is 0. ``direction`` and
    ``direction_confidence`` are known at departure only.
    """

    type: str
    time: float
    gateway: str
    location: str
    reader: str
    epc: str
    antennas: list[int]
    reads: int
    rssi_max: float | None
    first_seen: float
    last_seen: float
    uri: str | None = None
    direction: str | None = None
    direction_confidence: float = 0.0
    static: bool = False
    reason: str | None = None  # type "exception": why (no_read, barcode_without_tag, ...)
    owner: str | None = None  # whose goods (gateway.core.owners); None: the event is about no tag
    extra: dict[str, Any] = field(default_factory=dict)  # fields of other event types (barcode, gpi, ...)
    id: str = field(default_factory=lambda: new_event_id())
    seq: int = 0

    def to_payload(self) -> dict[str, Any]:
        """The event as published: a JSON object with RFC 3339 UTC times."""
        payload: dict[str, Any] = {
            "id": self.id,
            "seq": self.seq,
            "type": self.type,
            "time": rfc3339(self.time),
            "gateway": self.gateway,
            "location": self.location,
            "reader": self.reader,
            "epc": self.epc,
            "uri": self.uri,
            "antennas": self.antennas,
            "reads": self.reads,
            "rssi_max": self.rssi_max,
            "first_seen": rfc3339(self.first_seen),
            "last_seen": rfc3339(self.last_seen),
            "owner": self.owner,
        }
        if self.type in ("departed", "static"):
            payload["dwell_s"] = round(self.last_seen - self.first_seen, 3)
            payload["static"] = self.static
        if self.type == "departed":
            payload["direction"] = self.direction
            payload["direction_confidence"] = self.direction_confidence
        if self.reason is not None:
            payload["reason"] = self.reason
        if self.extra:
            payload.update(self.extra)
        return payload


class PresenceRow(NamedTuple):
    """A tag present at a location, as the presence tracker hands it to the outbox to keep across
    restarts, and back."""

    location: str
    epc: str
    first_seen: float
    last_seen: float
    reads: int
    antennas: int  # bitmask, see antenna_mask
    rssi_max: float | None
    reader: str
    static: bool


_ids = random.Random(int.from_bytes(os.urandom(32), "big"))


def new_event_id() -> str:
    """A random (version 4) UUID. From a generator seeded once per process from the OS: uuid.uuid4()
    asks the kernel for 16 bytes per call, and that was most of an event's cost on the hot path."""
    n = _ids.getrandbits(128)
    n = (n & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    n = (n & ~(0xF000 << 64)) | (4 << 76)  # version 4
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def rfc3339(epoch_s: float) -> str:
    """``2026-11-29T08:15:02.123Z``: UTC with milliseconds."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def antenna_mask(antennas: Iterable[int]) -> int:
    """Antenna ids as a bitmask (bit n: antenna n; ids above 1023 share bit 1023)."""
    mask = 0
    for antenna in antennas:
        mask |= 1 << min(antenna, 1023)
    return mask


def antenna_list(mask: int) -> list[int]:
    """The antenna ids of a bitmask, ascending."""
    out, antenna = [], 0
    while mask:
        if mask & 1:
            out.append(antenna)
        mask >>= 1
        antenna += 1
    return out
