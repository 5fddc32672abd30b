"""LLRP 1.0.1 binary framing: message and parameter constants, an incremental frame parser,
a parameter walker and encoders for the messages a reader sends.

Everything here is pure `struct` work with no I/O, so it can be tested byte by byte.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Final

LLRP_VERSION: Final = 1
HEADER = struct.Struct("!HII")  # 3 reserved + 3 version + 10 type bits, length, message id
HEADER_SIZE: Final = HEADER.size
MAX_MESSAGE_SIZE: Final = 16 * 1024 * 1024

# Message types (LLRP 1.0.1 section 16.1)
GET_READER_CAPABILITIES: Final = 1
GET_READER_CONFIG: Final = 2
SET_READER_CONFIG: Final = 3
CLOSE_CONNECTION_RESPONSE: Final = 4
GET_READER_CAPABILITIES_RESPONSE: Final = 11
GET_READER_CONFIG_RESPONSE: Final = 12
SET_READER_CONFIG_RESPONSE: Final = 13
CLOSE_CONNECTION: Final = 14
ADD_ROSPEC: Final = 20
DELETE_ROSPEC: Final = 21
START_ROSPEC: Final = 22
STOP_ROSPEC: Final = 23
ENABLE_ROSPEC: Final = 24
DISABLE_ROSPEC: Final = 25
GET_ROSPECS: Final = 26
ADD_ROSPEC_RESPONSE: Final = 30
DELETE_ROSPEC_RESPONSE: Final = 31
START_ROSPEC_RESPONSE: Final = 32
STOP_ROSPEC_RESPONSE: Final = 33
ENABLE_ROSPEC_RESPONSE: Final = 34
DISABLE_ROSPEC_RESPONSE: Final = 35
GET_ROSPECS_RESPONSE: Final = 36
ADD_ACCESSSPEC: Final = 40
DELETE_ACCESSSPEC: Final = 41
ENABLE_ACCESSSPEC: Final = 42
DISABLE_ACCESSSPEC: Final = 43
GET_ACCESSSPECS: Final = 44
ADD_ACCESSSPEC_RESPONSE: Final = 50
DELETE_ACCESSSPEC_RESPONSE: Final = 51
ENABLE_ACCESSSPEC_RESPONSE: Final = 52
DISABLE_ACCESSSPEC_RESPONSE: Final = 53
GET_ACCESSSPECS_RESPONSE: Final = 54
GET_REPORT: Final = 60
RO_ACCESS_REPORT: Final = 61
KEEPALIVE: Final = 62
READER_EVENT_NOTIFICATION: Final = 63
ENABLE_EVENTS_AND_REPORTS: Final = 64
KEEPALIVE_ACK: Final = 72
ERROR_MESSAGE: Final = 100
CUSTOM_MESSAGE: Final = 1023

# Parameter types (TLV unless noted)
P_ANTENNA_ID: Final = 1  # TV
P_FIRST_SEEN_UTC: Final = 2  # TV
P_LAST_SEEN_UTC: Final = 4  # TV
P_PEAK_RSSI: Final = 6  # TV
P_CHANNEL_INDEX: Final = 7  # TV
P_TAG_SEEN_COUNT: Final = 8  # TV
P_ROSPEC_ID: Final = 9  # TV
P_INVENTORY_PARAMETER_SPEC_ID: Final = 10  # TV
P_EPC_96: Final = 13  # TV
P_SPEC_INDEX: Final = 14  # TV
P_ACCESS_SPEC_ID: Final = 16  # TV
P_UTC_TIMESTAMP: Final = 128
P_GENERAL_DEVICE_CAPABILITIES: Final = 137
P_RECEIVE_SENSITIVITY_TABLE_ENTRY: Final = 139
P_PER_ANTENNA_AIR_PROTOCOL: Final = 140
P_GPIO_CAPABILITIES: Final = 141
P_LLRP_CAPABILITIES: Final = 142
P_REGULATORY_CAPABILITIES: Final = 143
P_UHF_BAND_CAPABILITIES: Final = 144
P_TRANSMIT_POWER_LEVEL_TABLE_ENTRY: Final = 145
P_FREQUENCY_INFORMATION: Final = 146
P_FREQUENCY_HOP_TABLE: Final = 147
P_ROSPEC: Final = 177
P_RO_BOUNDARY_SPEC: Final = 178
P_ROSPEC_START_TRIGGER: Final = 179
P_ROSPEC_STOP_TRIGGER: Final = 182
P_AISPEC: Final = 183
P_AISPEC_STOP_TRIGGER: Final = 184
P_TAG_OBSERVATION_TRIGGER: Final = 185
P_ACCESS_SPEC: Final = 207
P_LLRP_CONFIGURATION_STATE_VALUE: Final = 217
P_IDENTIFICATION: Final = 218
P_GPO_WRITE_DATA: Final = 219
P_KEEPALIVE_SPEC: Final = 220
P_ANTENNA_PROPERTIES: Final = 221
P_ANTENNA_CONFIGURATION: Final = 222
P_RF_RECEIVER: Final = 223
P_RF_TRANSMITTER: Final = 224
P_GPI_PORT_CURRENT_STATE: Final = 225
P_EVENTS_AND_REPORTS: Final = 226
P_RO_REPORT_SPEC: Final = 237
P_TAG_REPORT_CONTENT_SELECTOR: Final = 238
P_ACCESS_REPORT_SPEC: Final = 239
P_TAG_REPORT_DATA: Final = 240
P_EPC_DATA: Final = 241
P_READER_EVENT_NOTIFICATION_SPEC: Final = 244
P_EVENT_NOTIFICATION_STATE: Final = 245
P_READER_EVENT_NOTIFICATION_DATA: Final = 246
P_GPI_EVENT: Final = 248
P_ANTENNA_EVENT: Final = 255
P_CONNECTION_ATTEMPT_EVENT: Final = 256
P_LLRP_STATUS: Final = 287
P_UHF_C1G2_RF_MODE_TABLE: Final = 328
P_UHF_C1G2_RF_MODE_TABLE_ENTRY: Final = 329
P_C1G2_LLRP_CAPABILITIES: Final = 327
P_C1G2_EPC_MEMORY_SELECTOR: Final = 348
P_CUSTOM: Final = 1023

# Sizes of TV parameter values (without the 1-byte type), LLRP 1.0.1 section 16.2.
TV_VALUE_SIZES: Final[dict[int, int]] = {
    1: 2,
    2: 8,
    3: 8,
    4: 8,
    5: 8,
    6: 1,
    7: 2,
    8: 2,
    9: 4,
    10: 2,
    11: 2,
    12: 2,
    13: 12,
    14: 2,
    15: 2,
    16: 4,
    17: 2,
    18: 4,
}

# LLRPStatus codes (section 16.2.8.1)
M_SUCCESS: Final = 0
M_PARAMETER_ERROR: Final = 100
M_FIELD_ERROR: Final = 101
M_UNEXPECTED_PARAMETER: Final = 102
M_MISSING_PARAMETER: Final = 103
M_UNKNOWN_PARAMETER: Final = 107
M_UNSUPPORTED_MESSAGE: Final = 109
M_UNSUPPORTED_VERSION: Final = 110
A_INVALID: Final = 300

# ConnectionAttemptEvent status (section 16.2.7.6.10)
CONN_SUCCESS: Final = 0
CONN_FAILED_CLIENT_CONNECTION_EXISTS: Final = 2
CONN_ANOTHER_CONNECTION_ATTEMPTED: Final = 4

IMPINJ_VENDOR_ID: Final = 25882
IMPINJ_ENABLE_EXTENSIONS: Final = 21
IMPINJ_ENABLE_EXTENSIONS_RESPONSE: Final = 22

_TLV_HEADER = struct.Struct("!HH")
_U8 = struct.Struct("!B")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")


class FrameError(ValueError):
    """A frame header that cannot be trusted: the stream cannot be re-synchronised after it."""

    def __init__(self, message: str, status: int, msg_id: int) -> None:
        super().__init__(message)
        self.status = status
        self.msg_id = msg_id


class ParameterError(ValueError):
    """A message body that does not parse; answered with ERROR_MESSAGE, the connection survives."""

    def __init__(self, message: str, status: int = M_PARAMETER_ERROR) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Frame:
    msg_type: int
    version: int
    msg_id: int
    body: bytes


class FrameParser:
    """Incremental LLRP frame parser: `feed()` bytes as they arrive, get whole frames back.

    A bad header (version != 1, length < 10 or > 16 MiB) raises `FrameError`; the parser then
    refuses further input, because the byte stream can no longer be split into frames.
    """

    def __init__(self, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buf = bytearray()
        self._max_size = max_size
        self._broken: FrameError | None = None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        if self._broken is not None:
            raise self._broken
        self._buf += data
        frames: list[Frame] = []
        buf = self._buf
        pos = 0
        end = len(buf)
        while end - pos >= HEADER_SIZE:
            word, length, msg_id = HEADER.unpack_from(buf, pos)
            version = (word >> 10) & 0x7
            if version != LLRP_VERSION:
                self._broken = FrameError(f"unsupported LLRP version {version}", M_UNSUPPORTED_VERSION, msg_id)
            elif length < HEADER_SIZE:
                self._broken = FrameError(f"message length {length} < {HEADER_SIZE}", M_FIELD_ERROR, msg_id)
            elif length > self._max_size:
                self._broken = FrameError(f"message length {length} exceeds {self._max_size}", M_FIELD_ERROR, msg_id)
            if self._broken is not None:
                del buf[:]
                raise self._broken
            if end - pos < length:
                break
            frames.append(Frame(word & 0x3FF, version, msg_id, bytes(buf[pos + HEADER_SIZE : pos + length])))
            pos += length
        if pos:
            del buf[:pos]
        return frames


@dataclass(frozen=True, slots=True)
class Param:
    type: int
    value: bytes  # the parameter's body, without its header
    tv: bool


def iter_params(data: bytes | memoryview, offset: int = 0) -> Iterator[Param]:
    """Walk the TLV/TV parameters in `data[offset:]`; raises ParameterError on truncation."""
    end = len(data)
    pos = offset
    while pos < end:
        first = data[pos]
        if first & 0x80:
            ptype = first & 0x7F
            size = TV_VALUE_SIZES.get(ptype)
            if size is None:
                raise ParameterError(f"unknown TV parameter type {ptype} at byte {pos}", M_UNKNOWN_PARAMETER)
            if pos + 1 + size > end:
                raise ParameterError(f"TV parameter {ptype} truncated at byte {pos}")
            yield Param(ptype, bytes(data[pos + 1 : pos + 1 + size]), True)
            pos += 1 + size
            continue
        if end - pos < 4:
            raise ParameterError(f"truncated parameter header at byte {pos}")
        ptype, length = _TLV_HEADER.unpack_from(data, pos)
        ptype &= 0x3FF
        if length < 4 or pos + length > end:
            raise ParameterError(f"parameter {ptype} at byte {pos} has length {length}, {end - pos} bytes left")
        yield Param(ptype, bytes(data[pos + 4 : pos + length]), False)
        pos += length


def unpack_exact(fmt: struct.Struct, data: bytes, what: str) -> tuple[int, ...]:
    """Unpack a fixed prefix of `data`, naming `what` when it is too short."""
    if len(data) < fmt.size:
        raise ParameterError(f"{what}: expected at least {fmt.size} bytes, got {len(data)}")
    return fmt.unpack_from(data)


# ---- encoders --------------------------------------------------------------------------------


def message(msg_type: int, msg_id: int, body: bytes = b"") -> bytes:
    return HEADER.pack((LLRP_VERSION << 10) | msg_type, HEADER_SIZE + len(body), msg_id) + body


def custom_message(vendor_id: int, subtype: int, msg_id: int, body: bytes = b"") -> bytes:
    return message(CUSTOM_MESSAGE, msg_id, struct.pack("!IB", vendor_id, subtype) + body)


def tlv(ptype: int, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return _TLV_HEADER.pack(ptype, 4 + len(body)) + body


def llrp_status(code: int = M_SUCCESS, description: str = "") -> bytes:
    desc = description.encode("utf-8")
    return tlv(P_LLRP_STATUS, struct.pack("!HH", code, len(desc)), desc)


def response(msg_type: int, msg_id: int, code: int = M_SUCCESS, description: str = "", *extra: bytes) -> bytes:
    """A response carrying LLRPStatus first, then any further parameters."""
    return message(msg_type, msg_id, llrp_status(code, description) + b"".join(extra))


def error_message(msg_id: int, code: int, description: str) -> bytes:
    return response(ERROR_MESSAGE, msg_id, code, description)


def utc_timestamp(micros: int) -> bytes:
    return tlv(P_UTC_TIMESTAMP, _U64.pack(micros))


def connection_attempt_event(msg_id: int, status: int, micros: int) -> bytes:
    data = tlv(
        P_READER_EVENT_NOTIFICATION_DATA,
        utc_timestamp(micros),
        tlv(P_CONNECTION_ATTEMPT_EVENT, _U16.pack(status)),
    )
    return message(READER_EVENT_NOTIFICATION, msg_id, data)


def reader_event(msg_id: int, micros: int, event: bytes) -> bytes:
    """READER_EVENT_NOTIFICATION carrying one event parameter (GPIEvent, AntennaEvent, ...)."""
    return message(
        READER_EVENT_NOTIFICATION, msg_id, tlv(P_READER_EVENT_NOTIFICATION_DATA, utc_timestamp(micros), event)
    )


def gpi_event(port: int, state: bool) -> bytes:
    return tlv(P_GPI_EVENT, struct.pack("!HB", port, 0x80 if state else 0))


def antenna_event(antenna: int, connected: bool) -> bytes:
    return tlv(P_ANTENNA_EVENT, struct.pack("!BH", 1 if connected else 0, antenna))


def keepalive(msg_id: int) -> bytes:
    return message(KEEPALIVE, msg_id)


def ro_access_report(msg_id: int, tag_reports: Sequence[bytes]) -> bytes:
    return message(RO_ACCESS_REPORT, msg_id, b"".join(tag_reports))


# ---- TagReportData ---------------------------------------------------------------------------


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
    return tlv(P_EPC_DATA, _U16.pack(len(epc) * 8), epc)


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
            cached = _TLV_HEADER.pack(P_TAG_REPORT_DATA, 4 + len(epc_param) + self._tail.size) + epc_param
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
        _U16.pack(selector.to_flags()),
        tlv(P_C1G2_EPC_MEMORY_SELECTOR, _U8.pack(0)),
    )


def ro_report_spec(trigger: int, n: int, selector: ContentSelector) -> bytes:
    return tlv(P_RO_REPORT_SPEC, struct.pack("!BH", trigger, n), tag_report_content_selector(selector))
