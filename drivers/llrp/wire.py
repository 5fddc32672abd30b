"""LLRP bytes for the driver: an incremental frame splitter, sllurp's codec for the control messages,
and a fast path for RO_ACCESS_REPORT.

sllurp's ``LLRPMessage`` encodes and decodes every control message; it stays the codec for those.
Tag reports are the hot path: sllurp builds a dict per parameter and decodes about 55k-105k tags/s,
while the ``struct.unpack_from`` walk in :func:`decode_tag_reports` does several times that
(``benchmarks/llrp_decode.py`` prints both). The fast path is checked against sllurp on randomized
reports (``tests/unit/test_llrp_wire.py``); a report it cannot walk falls back to sllurp.

Errors for a session: ``FrameError`` (the stream cannot be split any further, or a whole message cannot be
decoded: ``UndecodableMessage``) ends the connection, which the driver logs and opens again;
``UndecodableReport`` sends a report to sllurp's decoder. Hostile input raises nothing else
(``tests/unit/test_llrp_fuzz.py``), and what is buffered or cached per reader is bounded.
"""

from __future__ import annotations

import struct
from typing import Any, Final, NamedTuple

from sllurp.llrp import LLRPMessage
from sllurp.llrp_proto import Param_struct

from gateway.domain.model import TagRead

HEADER: Final = struct.Struct("!HII")
HEADER_SIZE: Final = 10
MAX_MESSAGE_SIZE: Final = 16 * 1024 * 1024

RO_ACCESS_REPORT: Final = 61
KEEPALIVE: Final = 62
READER_EVENT_NOTIFICATION: Final = 63
ERROR_MESSAGE: Final = 100

# Sizes of TV parameter values (without the type byte), LLRP 1.0.1 section 16.2.
_TV_SIZES: Final = (0, 2, 8, 8, 8, 8, 1, 2, 2, 4, 2, 2, 2, 12, 2, 2, 4, 2, 4)
_TLV: Final = struct.Struct("!HH")
_U16: Final = struct.Struct("!H")
_I8: Final = struct.Struct("!b")
_U64: Final = struct.Struct("!Q")


def _encode_gpo_write_data(par: dict[str, Any], _info: Any) -> bytes:
    return struct.pack("!HB", int(par["GPOPortNumber"]), 0x80 if par["GPOData"] else 0)


# sllurp 3.0.5 decodes GPOWriteData but has no encoder for it: it logs "No encoder found" and leaves
# the parameter out of SET_READER_CONFIG, so a GPO write would silently do nothing.
Param_struct["GPOWriteData"].setdefault("encode", _encode_gpo_write_data)


class FrameError(ValueError):
    """Bytes from the reader that cannot be trusted (a bad header): the connection must be closed."""


class UndecodableMessage(FrameError):
    """A whole message that sllurp's decoder refuses (truncated or malformed parameters)."""


class FrameSplitter:
    """Feed bytes as they arrive, get whole LLRP messages (header included) back.

    Frames may be split at any byte or come many to a segment. A bad header (version other than 1,
    length below 10 or above ``max_size``, 16 MiB) raises FrameError as soon as its 10 bytes are in, so
    at most ``max_size`` bytes are ever buffered; the splitter then refuses further input.
    """

    def __init__(self, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buf = bytearray()
        self._max = max_size
        self._broken: FrameError | None = None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        if self._broken is not None:
            raise self._broken
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        pos, end = 0, len(buf)
        while end - pos >= HEADER_SIZE:
            word, length, msg_id = HEADER.unpack_from(buf, pos)
            version = (word >> 10) & 0x7
            if version != 1 or length < HEADER_SIZE or length > self._max:
                if version != 1:
                    problem = f"version {version}, expected 1"
                elif length < HEADER_SIZE:
                    problem = f"length {length} below the {HEADER_SIZE}-byte header"
                else:
                    problem = f"length {length} above the limit of {self._max} bytes"
                self._broken = FrameError(f"bad LLRP header (type {word & 0x3FF}, id {msg_id}): {problem}")
                buf.clear()
                raise self._broken
            if end - pos < length:
                break
            frames.append(bytes(buf[pos : pos + length]))
            pos += length
        if pos:
            del buf[:pos]
        return frames


def message_type(frame: bytes) -> int:
    return int(_U16.unpack_from(frame)[0]) & 0x3FF


def message_id(frame: bytes) -> int:
    return int(HEADER.unpack_from(frame)[2])


def encode(name: str, msg_id: int, fields: dict[str, Any] | None = None) -> bytes:
    """One LLRP message from sllurp's dict form: ``encode("ENABLE_ROSPEC", 7, {"ROSpecID": 1})``."""
    body = dict(fields or {})
    body["ID"] = msg_id
    msgbytes: bytes = LLRPMessage(msgdict={name: body}).msgbytes
    return msgbytes


def decode(frame: bytes) -> tuple[str, dict[str, Any]]:
    """A whole message (header included) -> (sllurp's message name, its fields); UndecodableMessage when
    sllurp cannot decode it."""
    try:
        msg = LLRPMessage(msgbytes=frame)
        name: str = msg.getName()
        return name, msg.msgdict[name]
    except Exception as exc:  # sllurp raises LLRPError, struct.error, IndexError ... on broken input
        raise UndecodableMessage(
            f"LLRP message type {message_type(frame)} id {message_id(frame)} cannot be decoded: {exc}"
        ) from exc


class TagReport(NamedTuple):
    """One TagReportData: the fields the gateway uses; None when the reader did not send one."""

    epc: str  # uppercase hex
    antenna: int | None
    rssi: int | None
    first_seen_us: int | None
    last_seen_us: int | None
    seen_count: int | None


class UndecodableReport(ValueError):
    """The fast path cannot walk this report (an unknown TV parameter, a truncated one)."""


class UnknownParameter(UndecodableReport):
    """A TV type whose size the fast path does not know: sllurp's decoder may know it."""


def decode_tag_reports(frame: bytes) -> list[TagReport]:
    """The TagReportData of one RO_ACCESS_REPORT (header included), walked with ``struct.unpack_from``.

    Reads EPC-96 (TV 13), EPCData (TLV 241), AntennaID (1), PeakRSSI (6), First/LastSeenTimestampUTC
    (2/4, Uptime 3/5 when UTC is absent), TagSeenCount (8); skips every other TV it knows the size of
    and every other TLV (Custom 1023, C1G2 read results, ...). Top-level parameters other than
    TagReportData (RFSurveyReportData, Custom) are skipped.
    """
    out: list[TagReport] = []
    end = len(frame)
    pos = HEADER_SIZE
    unpack_tlv = _TLV.unpack_from
    while pos < end:
        if end - pos < 4:
            raise UndecodableReport(f"truncated parameter header at byte {pos}")
        ptype, length = unpack_tlv(frame, pos)
        if length < 4 or pos + length > end:
            raise UndecodableReport(f"parameter {ptype & 0x3FF} at byte {pos}: bad length {length}")
        if ptype & 0x3FF == 240:
            out.append(_tag_report(frame, pos + 4, pos + length))
        pos += length
    return out


def _tag_report(data: bytes, pos: int, end: int) -> TagReport:
    epc = ""
    antenna = rssi = first = last = count = first_up = last_up = None
    tv_sizes = _TV_SIZES
    while pos < end:
        first_byte = data[pos]
        if first_byte & 0x80:
            ptype = first_byte & 0x7F
            if ptype >= len(tv_sizes) or not tv_sizes[ptype]:
                raise UnknownParameter(f"unknown TV parameter {ptype}")
            value = pos + 1
            pos = value + tv_sizes[ptype]
            if pos > end:
                raise UndecodableReport(f"TV parameter {ptype} truncated")
            if ptype == 13:
                epc = data[value:pos].hex().upper()
            elif ptype == 1:
                antenna = _U16.unpack_from(data, value)[0]
            elif ptype == 6:
                rssi = _I8.unpack_from(data, value)[0]
            elif ptype == 4:
                last = _U64.unpack_from(data, value)[0]
            elif ptype == 2:
                first = _U64.unpack_from(data, value)[0]
            elif ptype == 8:
                count = _U16.unpack_from(data, value)[0]
            elif ptype == 3:
                first_up = _U64.unpack_from(data, value)[0]
            elif ptype == 5:
                last_up = _U64.unpack_from(data, value)[0]
            continue
        if end - pos < 4:
            raise UndecodableReport("truncated TLV header in TagReportData")
        ptype, length = _TLV.unpack_from(data, pos)
        if length < 4 or pos + length > end:
            raise UndecodableReport(f"TLV {ptype & 0x3FF} in TagReportData: bad length {length}")
        if ptype & 0x3FF == 241:  # EPCData: bit count, then the EPC bits padded to whole bytes
            if length < 6:
                raise UndecodableReport(f"EPCData of {length} bytes has no bit count")
            bits = _U16.unpack_from(data, pos + 4)[0]
            stop = pos + 6 + (bits + 7) // 8
            if stop > pos + length:
                raise UndecodableReport(f"EPCData of {length} bytes cannot hold {bits} bits")
            epc = data[pos + 6 : stop].hex().upper()
        pos += length
    return TagReport(
        epc,
        antenna,
        rssi,
        first if first is not None else first_up,
        last if last is not None else last_up,
        count,
    )


def tag_reports_via_sllurp(frame: bytes) -> list[TagReport]:
    """The same as :func:`decode_tag_reports`, through sllurp's decoder: the reference and the fallback.
    UndecodableMessage when sllurp cannot decode the frame as an RO_ACCESS_REPORT, or when its parameters'
    lengths do not add up (sllurp would read past them: a cut EPC-96 becomes a phantom EPC "000000")."""
    where = f"LLRP message type {message_type(frame)} id {message_id(frame)}"
    try:
        decode_tag_reports(frame)
    except UnknownParameter:
        pass
    except UndecodableReport as exc:
        raise UndecodableMessage(f"{where} cannot be decoded: {exc}") from exc
    name, fields = decode(frame)
    tags = fields.get("TagReportData", [])
    tags = [tags] if isinstance(tags, dict) else tags
    if name != "RO_ACCESS_REPORT" or not all(isinstance(tag, dict) for tag in tags):
        raise UndecodableMessage(f"{where}: not an RO_ACCESS_REPORT")
    out = []
    for tag in tags:
        epc = tag.get("EPC") or tag.get("EPC-96") or b""
        epc_hex = epc.decode("ascii") if isinstance(epc, bytes) else str(epc)
        first = tag.get("FirstSeenTimestampUTC", tag.get("FirstSeenTimestampUptime"))
        last = tag.get("LastSeenTimestampUTC", tag.get("LastSeenTimestampUptime"))
        out.append(
            TagReport(epc_hex.upper(), tag.get("AntennaID"), tag.get("PeakRSSI"), first, last, tag.get("TagSeenCount"))
        )
    return out


# ---- RO_ACCESS_REPORT straight to TagRead: the per-read hot path ------------------------------------------

_EPC_CACHE_MAX = 100_000
# TagReportData layouts learnt per reader: a reader sends one or two (one per content selector), and a
# body of EPC-96 and every TV field is under 100 bytes. Beyond these, tags are walked without a layout.
_LAYOUTS_MAX = 64
_LAYOUT_BODY_MAX = 256
_FIELD_OF_TV: Final = {1: "antenna", 6: "rssi", 2: "first", 4: "last", 3: "first_up", 5: "last_up", 8: "count"}


class _Layout(NamedTuple):
    """A TagReportData made of TV parameters only, EPC-96 first: one ``struct`` reads it whole."""

    unpack: Any  # struct.Struct.unpack_from
    types: tuple[int, ...]  # the TV type bytes, expected at the even positions of the unpacked tuple
    antenna: int  # index in the unpacked tuple, 0 = absent
    rssi: int
    last: int  # LastSeenTimestampUTC, else FirstSeenTimestampUTC, else an Uptime one; 0 = absent
    seen_count: int


def _learn_layout(data: bytes, pos: int, end: int) -> _Layout | None:
    """The layout of the TagReportData body at ``data[pos:end]``, or None when it has a TLV or an unknown TV."""
    fmt = "!"
    types: list[int] = []
    index: dict[str, int] = {}
    codes = {1: "B", 2: "H", 4: "I", 8: "Q"}
    signed = {6: "b"}
    while pos < end:
        first = data[pos]
        if not first & 0x80:
            return None
        ptype = first & 0x7F
        size = _TV_SIZES[ptype] if ptype < len(_TV_SIZES) else 0
        if not size or (ptype == 13) != (not types):  # EPC-96 first, and only first
            return None
        fmt += "B" + signed.get(ptype, codes.get(size, f"{size}s"))
        name = _FIELD_OF_TV.get(ptype)
        if name is not None and name not in index:
            index[name] = 2 * len(types) + 1
        types.append(first)
        pos += 1 + size
    if pos != end or not types:
        return None
    last = index.get("last") or index.get("last_up") or index.get("first") or index.get("first_up") or 0
    return _Layout(
        struct.Struct(fmt).unpack_from,
        tuple(types),
        index.get("antenna", 0),
        index.get("rssi", 0),
        last,
        index.get("count", 0),
    )


class TagReadDecoder:
    """One reader's RO_ACCESS_REPORTs -> ``TagRead``s, with no intermediate objects per read.

    Readers send every TagReportData of a ROSpec with the same parameters (the content selector), so the
    layout is learnt once per parameter length and then read with one ``struct.unpack_from`` per tag,
    checked by its TV type bytes; anything else (EPCData, vendor TLVs) takes :func:`decode_tag_reports`.
    EPC strings are interned per reader: a tag read 1000 times is one ``str`` (its hash computed once),
    which the pipeline's dicts then look up for free.
    """

    def __init__(self, reader: str) -> None:
        self.reader = reader
        self._layouts: dict[int, _Layout | None] = {}
        self._epcs: dict[bytes, str] = {}

    def decode(self, frame: bytes, now: float) -> list[TagRead]:
        """The reads of one RO_ACCESS_REPORT (header included), all stamped ``now``."""
        out: list[TagRead] = []
        reader = self.reader
        layouts = self._layouts
        epcs = self._epcs
        append = out.append
        end = len(frame)
        pos = HEADER_SIZE
        unpack_tlv = _TLV.unpack_from
        while pos < end:
            if end - pos < 4:
                raise UndecodableReport(f"truncated parameter header at byte {pos}")
            ptype, length = unpack_tlv(frame, pos)
            if length < 4 or pos + length > end:
                raise UndecodableReport(f"parameter {ptype & 0x3FF} at byte {pos}: bad length {length}")
            if ptype & 0x3FF == 240:
                try:
                    layout = layouts[length]
                except KeyError:
                    layout = _learn_layout(frame, pos + 4, pos + length) if length <= _LAYOUT_BODY_MAX else None
                    if len(layouts) < _LAYOUTS_MAX:
                        layouts[length] = layout
                vals = layout.unpack(frame, pos + 4) if layout is not None else None
                if vals is not None and layout is not None and vals[0::2] == layout.types:
                    raw = vals[1]
                    epc = epcs.get(raw)
                    if epc is None:
                        if len(epcs) >= _EPC_CACHE_MAX:
                            epcs.clear()
                        epc = epcs[raw] = raw.hex().upper()
                    stamp = vals[layout.last] if layout.last else 0
                    append(
                        TagRead(
                            reader,
                            vals[layout.antenna] if layout.antenna else 0,
                            epc,
                            float(vals[layout.rssi]) if layout.rssi else None,
                            now,
                            stamp / 1e6 if stamp else None,
                            (vals[layout.seen_count] or 1) if layout.seen_count else 1,
                        )
                    )
                else:
                    tag = _tag_report(frame, pos + 4, pos + length)
                    if tag.epc:
                        append(_to_read(reader, now, tag))
            pos += length
        return out


def _to_read(reader: str, now: float, t: TagReport) -> TagRead:
    return TagRead(
        reader,
        t.antenna or 0,
        t.epc,
        float(t.rssi) if t.rssi is not None else None,
        now,
        (t.last_seen_us or t.first_seen_us or 0) / 1e6 or None,
        t.seen_count or 1,
    )


def reads_via_sllurp(frame: bytes, reader: str, now: float) -> list[TagRead]:
    """The fallback: sllurp's decoder, the same ``TagRead``s."""
    return [_to_read(reader, now, t) for t in tag_reports_via_sllurp(frame) if t.epc]
