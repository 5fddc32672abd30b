"""The simulator's own JSON encoding of reader events (it shares no code with the driver).

Lines are built as text from templates, one ``ReaderEvent`` per line as the R700 streams them: the
envelope (``timestamp``, ``hostname``, ``eventType``) and the member named after the type. Times are RFC
3339 UTC with nanoseconds, as the reader writes them. The EPC goes out twice, base64 (``epc``) and hex
(``epcHex``), like the reader with both enabled.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

HOSTNAME = "impinj-sim"


def rfc3339(epoch_s: float) -> str:
    whole = int(epoch_s)
    nanos = round((epoch_s - whole) * 1e9)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{nanos:09d}Z"


class TagLines:
    """tagInventory lines; the per-tag parts (base64, hex) are made once per EPC."""

    def __init__(self, hostname: str = HOSTNAME) -> None:
        self.hostname = hostname
        self._tags: dict[bytes, str] = {}

    def line(self, epc: bytes, antenna: int, rssi_dbm: float, seen_s: float, frequency_khz: int, phase: float) -> str:
        tag = self._tags.get(epc)
        if tag is None:
            tag = self._tags[epc] = f'"epc":"{base64.b64encode(epc).decode("ascii")}","epcHex":"{epc.hex().upper()}"'
        stamp = rfc3339(seen_s)
        return (
            f'{{"timestamp":"{stamp}","hostname":"{self.hostname}","eventType":"tagInventory",'
            f'"tagInventoryEvent":{{{tag},"antennaPort":{antenna},"antennaName":"{antenna}",'
            f'"transmitPowerCdbm":3000,"peakRssiCdbm":{round(rssi_dbm * 100)},"frequency":{frequency_khz},'
            f'"lastSeenTime":"{stamp}","phaseAngle":{phase:.2f}}}}}'
        )


def event_line(kind: str, member: dict[str, Any], now_s: float, hostname: str = HOSTNAME) -> str:
    """Any other event: ``kind`` is the eventType (``overflow``, ``antennaConnected``, ``inventoryStatus``)."""
    envelope = {"timestamp": rfc3339(now_s), "hostname": hostname, "eventType": kind, f"{kind}Event": member}
    return json.dumps(envelope, separators=(",", ":"))


def error_body(message: str, detail: str | None = None, invalid: str | None = None) -> bytes:
    """An ErrorResponse body."""
    body: dict[str, str] = {"message": message}
    if invalid:
        body["invalidPropertyId"] = invalid
    if detail:
        body["detail"] = detail
    return json.dumps(body).encode()


# Lines a broken reader or a broken proxy might send: not JSON, cut short, JSON of the wrong shape.
MALFORMED = (
    '{"timestamp":"2026-01-01T00:00:00Z","eventType":"tagInventory","tagInventoryEvent":{"epcHex":"30',
    "<html><body>502 Bad Gateway</body></html>",
    '["tagInventory"]',
    '{"eventType":"tagInventory","tagInventoryEvent":{"antennaPort":1}}',
)
