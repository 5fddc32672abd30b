"""The messages and event parameters a reader sends: responses with their LLRPStatus, ERROR_MESSAGE,
reader event notifications (connection attempt, GPI, antenna), keepalives and RO_ACCESS_REPORTs.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from simulators.llrp.frames.codec import U16, U64, message, tlv
from simulators.llrp.frames.codes import (
    CUSTOM_MESSAGE,
    ERROR_MESSAGE,
    KEEPALIVE,
    M_SUCCESS,
    P_ANTENNA_EVENT,
    P_CONNECTION_ATTEMPT_EVENT,
    P_GPI_EVENT,
    P_LLRP_STATUS,
    P_READER_EVENT_NOTIFICATION_DATA,
    P_UTC_TIMESTAMP,
    READER_EVENT_NOTIFICATION,
    RO_ACCESS_REPORT,
)

__all__ = [
    "antenna_event",
    "connection_attempt_event",
    "custom_message",
    "error_message",
    "gpi_event",
    "keepalive",
    "llrp_status",
    "reader_event",
    "response",
    "ro_access_report",
    "utc_timestamp",
]


def custom_message(vendor_id: int, subtype: int, msg_id: int, body: bytes = b"") -> bytes:
    return message(CUSTOM_MESSAGE, msg_id, struct.pack("!IB", vendor_id, subtype) + body)


def llrp_status(code: int = M_SUCCESS, description: str = "") -> bytes:
    desc = description.encode("utf-8")
    return tlv(P_LLRP_STATUS, struct.pack("!HH", code, len(desc)), desc)


def response(msg_type: int, msg_id: int, code: int = M_SUCCESS, description: str = "", *extra: bytes) -> bytes:
    """A response carrying LLRPStatus first, then any further parameters."""
    return message(msg_type, msg_id, llrp_status(code, description) + b"".join(extra))


def error_message(msg_id: int, code: int, description: str) -> bytes:
    return response(ERROR_MESSAGE, msg_id, code, description)


def utc_timestamp(micros: int) -> bytes:
    return tlv(P_UTC_TIMESTAMP, U64.pack(micros))


def connection_attempt_event(msg_id: int, status: int, micros: int) -> bytes:
    data = tlv(
        P_READER_EVENT_NOTIFICATION_DATA,
        utc_timestamp(micros),
        tlv(P_CONNECTION_ATTEMPT_EVENT, U16.pack(status)),
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
