"""TagReportData: which fields a client asked for (the TagReportContentSelector) and the encoder that
builds one TagReportData per read.

The encoder is the simulator's hot path at high read rates, so it packs each read with one prebuilt
struct rather than one parameter at a time.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from operator import itemgetter
from typing import Final

from simulators.llrp.frames.codec import TLV_HEADER, U8, U16, tlv
from simulators.llrp.frames.codes import (
    P_ACCESS_SPEC_ID,
    P_ANTENNA_ID,
    P_C1G2_EPC_MEMORY_SELECTOR,
    P_CHANNEL_INDEX,
    P_EPC_96,
    P_EPC_DATA,
    P_FIRST_SEEN_UTC,
    P_INVENTORY_PARAMETER_SPEC_ID,
    P_LAST_SEEN_UTC,
    P_PEAK_RSSI,
    P_RO_REPORT_SPEC,
    P_ROSPEC_ID,
    P_SPEC_INDEX,
    P_TAG_REPORT_CONTENT_SELECTOR,
    P_TAG_REPORT_DATA,
    P_TAG_SEEN_COUNT,
)

__all__ = [
    "ALL_FIELDS",
    "ContentSelector",
    "TagReportEncoder",
    "epc_parameter",
    "ro_report_spec",
    "tag_report_content_selector",
]


@dataclass(frozen=True, slots=True)
class ContentSelector:
    """TagReportContentSelector flags (section 16.2.7.1); EPC is always reported."""

    rospec_id: bool = False
    spec_index: bool = False
    inventory_parameter_spec_id: bool = False
    antenna_id: bool = False
    channel_index: bool = False
    peak_rssi: bool = False
    first_seen: bool = False
    last_seen: bool = False
    tag_seen_count: bool = False
    access_spec_id: bool = False

    @classmethod
    def from_flags(cls, flags: int) -> ContentSelector:
        bits = [bool(flags & (1 << (15 - i))) for i in range(10)]
        return cls(*bits)

    def to_flags(self) -> int:
        values = (
            self.rospec_id,
            self.spec_index,
            self.inventory_parameter_spec_id,
            self.antenna_id,
            self.channel_index,
            self.peak_rssi,
            self.first_seen,
            self.last_seen,
            self.tag_seen_count,
            self.access_spec_id,
        )
        return sum(1 << (15 - i) for i, on in enumerate(values) if on)


ALL_FIELDS: Final = ContentSelector(*([True] * 10))

# Order of the optional TV fields inside TagReportData (section 16.2.7.3), with the slot of their
# value in the tuple built by TagReportEncoder.encode.
_TV_FIELDS: Final = (
    ("rospec_id", P_ROSPEC_ID, "I"),
    ("spec_index", P_SPEC_INDEX, "H"),
    ("inventory_parameter_spec_id", P_INVENTORY_PARAMETER_SPEC_ID, "H"),
    ("antenna_id", P_ANTENNA_ID, "H"),
    ("peak_rssi", P_PEAK_RSSI, "b"),
    ("channel_index", P_CHANNEL_INDEX, "H"),
    ("first_seen", P_FIRST_SEEN_UTC, "Q"),
    ("last_seen", P_LAST_SEEN_UTC, "Q"),
    ("tag_seen_count", P_TAG_SEEN_COUNT, "H"),
    ("access_spec_id", P_ACCESS_SPEC_ID, "I"),
)


def epc_parameter(epc: bytes) -> bytes:
    """EPC-96 (TV 13) for 96-bit EPCs, EPCData (TLV 241) for any other length."""
    if len(epc) == 12:
        return bytes([0x80 | P_EPC_96]) + epc
    return tlv(P_EPC_DATA, U16.pack(len(epc) * 8), epc)


class TagReportEncoder:
    """Builds TagReportData parameters for one content selector with one prebuilt struct.

    `prefix(epc)` is computed once per tag; `encode()` is one tuple, one itemgetter call, one
    `struct.pack` and one concatenation per read.
    """

    def __init__(
        self,
        selector: ContentSelector,
        rospec_id: int = 0,
        spec_index: int = 1,
        inventory_parameter_spec_id: int = 1,
        access_spec_id: int = 0,
    ) -> None:
        self.selector = selector
        self.rospec_id = rospec_id & 0xFFFFFFFF
        self.spec_index = spec_index
        self.ips_id = inventory_parameter_spec_id
        self.access_spec_id = access_spec_id
        fmt = "!"
        slots: list[int] = []
        for i, (name, _ptype, code) in enumerate(_TV_FIELDS):
            if getattr(selector, name):
                fmt += "B" + code
                slots += [2 * i, 2 * i + 1]
        self._tail = struct.Struct(fmt)
        self._pack = self._tail.pack
        self._select = itemgetter(*slots) if slots else None
        self._prefixes: dict[bytes, bytes] = {}

    def prefix(self, epc: bytes) -> bytes:
        cached = self._prefixes.get(epc)
        if cached is None:
            epc_param = epc_parameter(epc)
            cached = TLV_HEADER.pack(P_TAG_REPORT_DATA, 4 + len(epc_param) + self._tail.size) + epc_param
            self._prefixes[epc] = cached
        return cached

    def encode(self, prefix: bytes, antenna: int, rssi: int, micros: int, channel: int = 1) -> bytes:
        select = self._select
        if select is None:
            return prefix
        values = (
            0x80 | P_ROSPEC_ID,
            self.rospec_id,
            0x80 | P_SPEC_INDEX,
            self.spec_index,
            0x80 | P_INVENTORY_PARAMETER_SPEC_ID,
            self.ips_id,
            0x80 | P_ANTENNA_ID,
            antenna,
            0x80 | P_PEAK_RSSI,
            rssi,
            0x80 | P_CHANNEL_INDEX,
            channel,
            0x80 | P_FIRST_SEEN_UTC,
            micros,
            0x80 | P_LAST_SEEN_UTC,
            micros,
            0x80 | P_TAG_SEEN_COUNT,
            1,
            0x80 | P_ACCESS_SPEC_ID,
            self.access_spec_id,
        )
        return prefix + self._pack(*select(values))


def tag_report_content_selector(selector: ContentSelector) -> bytes:
    return tlv(
        P_TAG_REPORT_CONTENT_SELECTOR,
        U16.pack(selector.to_flags()),
        tlv(P_C1G2_EPC_MEMORY_SELECTOR, U8.pack(0)),
    )


def ro_report_spec(trigger: int, n: int, selector: ContentSelector) -> bytes:
    return tlv(P_RO_REPORT_SPEC, struct.pack("!BH", trigger, n), tag_report_content_selector(selector))
