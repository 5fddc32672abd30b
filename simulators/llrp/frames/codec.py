"""LLRP 1.0.1 framing: the message header, an incremental frame parser, the parameter walker, and the two
encoders everything else is built from (``message``, ``tlv``).

Pure ``struct`` work with no I/O, so it can be tested byte by byte. A bad header ends the stream (no LLRP
client can find the next frame after it); a bad parameter only fails its message.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from simulators.llrp.frames.codes import (
    M_FIELD_ERROR,
    M_PARAMETER_ERROR,
    M_UNKNOWN_PARAMETER,
    M_UNSUPPORTED_VERSION,
    TV_VALUE_SIZES,
)

__all__ = [
    "HEADER",
    "HEADER_SIZE",
    "LLRP_VERSION",
    "MAX_MESSAGE_SIZE",
    "Frame",
    "FrameError",
    "FrameParser",
    "Param",
    "ParameterError",
    "iter_params",
    "message",
    "tlv",
    "unpack_exact",
]

LLRP_VERSION: Final = 1
HEADER = struct.Struct("!HII")  # 3 reserved + 3 version + 10 type bits, length, message id
HEADER_SIZE: Final = HEADER.size
MAX_MESSAGE_SIZE: Final = 16 * 1024 * 1024

# Shared by the encoders (not part of the package's namespace)
TLV_HEADER = struct.Struct("!HH")
U8 = struct.Struct("!B")
U16 = struct.Struct("!H")
U64 = struct.Struct("!Q")


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
        ptype, length = TLV_HEADER.unpack_from(data, pos)
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


def message(msg_type: int, msg_id: int, body: bytes = b"") -> bytes:
    return HEADER.pack((LLRP_VERSION << 10) | msg_type, HEADER_SIZE + len(body), msg_id) + body


def tlv(ptype: int, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return TLV_HEADER.pack(ptype, 4 + len(body)) + body
