"""The HTTP stream's lines -> ``TagRead``s and reader events: the per-read hot path.

One JSON ``ReaderEvent`` per line (``eventType`` names the member that holds it); an empty line is the
reader's keep-alive, not an event. A tag read becomes the same ``TagRead`` as an LLRP one: ``antenna`` the
antenna port, ``epc`` upper-case hex, ``rssi`` in dBm (``peakRssiCdbm`` / 100), ``time`` the gateway's
clock when the bytes arrived, ``reader_time`` the reader's ``lastSeenTime`` (seconds since the epoch).
``phaseAngle`` and ``frequency`` are read past: no ``TagRead`` field carries them (LLRP's carries neither).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.domain.model import TagRead

_EPC_CACHE_MAX = 100_000
_LINE_MAX = 1 << 20


@dataclass
class Decoded:
    """What a batch of lines held besides tag reads: reader events in order, and what could not be read."""

    reads: list[TagRead] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (eventType, its member)
    keepalives: int = 0
    malformed: list[str] = field(default_factory=list)  # why, one per bad line


class LineDecoder:
    """Bytes of the stream's body -> ``Decoded``; a line may be split across any two ``feed()`` calls."""

    def __init__(self, reader: str) -> None:
        self.reader = reader
        self._tail = b""
        self._epcs: dict[str, str] = {}

    def feed(self, data: bytes, now: float) -> Decoded:
        out = Decoded()
        lines = (self._tail + data).split(b"\n") if self._tail else data.split(b"\n")
        self._tail = lines.pop()
        if len(self._tail) > _LINE_MAX:
            self._tail = b""
            out.malformed.append(f"a line longer than {_LINE_MAX} bytes (dropped)")
        reads = out.reads
        reader = self.reader
        epcs = self._epcs
        loads = json.loads
        for line in lines:
            if not line.strip():
                out.keepalives += 1
                continue
            try:
                event = loads(line)
                kind = event["eventType"]
            except (ValueError, TypeError, KeyError) as exc:
                out.malformed.append(f"{type(exc).__name__}: {str(exc)[:80]} in {line[:60]!r}")
                continue
            if kind == "tagInventory":
                tag = event.get("tagInventoryEvent")
                if not isinstance(tag, dict):
                    out.malformed.append("tagInventory without a tagInventoryEvent object")
                    continue
                hex_ = tag.get("epcHex")
                if not isinstance(hex_, str):
                    hex_ = _epc_from_base64(tag.get("epc"))
                    if hex_ is None:
                        out.malformed.append("tagInventoryEvent without epcHex or epc")
                        continue
                epc = epcs.get(hex_)
                if epc is None:
                    if len(epcs) >= _EPC_CACHE_MAX:
                        epcs.clear()
                    epc = epcs[hex_] = hex_.upper()
                rssi = tag.get("peakRssiCdbm")
                seen = tag.get("lastSeenTime")
                try:
                    reads.append(
                        TagRead(
                            reader,
                            int(tag.get("antennaPort") or 0),
                            epc,
                            rssi / 100.0 if rssi is not None else None,
                            now,
                            datetime.fromisoformat(seen).timestamp() if seen else None,
                        )
                    )
                except (ValueError, TypeError) as exc:
                    out.malformed.append(f"tagInventoryEvent field: {exc}")
                continue
            member = event.get(f"{kind}Event")
            out.events.append((str(kind), member if isinstance(member, dict) else {}))
        return out


def _epc_from_base64(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True).hex().upper()
    except (binascii.Error, ValueError):
        return None
