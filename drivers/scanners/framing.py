"""Scanner byte stream -> whole scans, incrementally.

A scanner sends each scan as text followed by a terminator (CR, LF, CRLF or a configured byte string),
optionally wrapped in a configured prefix and suffix. Between scans a line may carry noise: binary
garbage after a power glitch, a line far too long (a wrong baud rate reads as an endless stream),
bytes that are not UTF-8. Such frames are counted in ``dropped`` by reason and skipped; the framer
never raises on input.

``decode(buffer)`` follows the pymodbus framer convention: it returns how many bytes it consumed and
the scan found (or None); 0 consumed means "need more bytes". ``feed(data)`` wraps it for callers.
"""

from __future__ import annotations

from collections import Counter
from typing import Final

TERMINATORS: Final = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n"}

# Control characters a scan may carry: GS (FNC1 separator), RS and EOT (ISO/IEC 15434 envelopes).
_ALLOWED_CONTROLS: Final = frozenset("\x1d\x1e\x04")


def terminator_bytes(name: str | bytes) -> bytes:
    """``CR``/``LF``/``CRLF`` or a literal byte string (``\\x03`` escapes allowed) -> bytes."""
    if isinstance(name, bytes):
        return name
    if name.upper() in TERMINATORS:
        return TERMINATORS[name.upper()]
    return name.encode("latin-1").decode("unicode_escape").encode("latin-1")


class ScanFramer:
    """Incremental framing for one scanner; not thread-safe (one reader thread owns it)."""

    def __init__(
        self,
        terminator: bytes = b"\r",
        max_length: int = 1024,
        prefix: bytes = b"",
        suffix: bytes = b"",
    ) -> None:
        if not terminator:
            raise ValueError("terminator must not be empty")
        self.terminator = terminator
        self.max_length = max_length
        self.prefix = prefix
        self.suffix = suffix
        self.dropped: Counter[str] = Counter()
        self.scans = 0
        self._buffer = bytearray()
        self._discarding = False  # inside an overlong line: skip to the next terminator

    def feed(self, data: bytes) -> list[str]:
        """Add bytes; return the scans they complete, in order."""
        buffer = self._buffer
        buffer += data
        out: list[str] = []
        while buffer:
            consumed, scan = self.decode(buffer)
            if not consumed:
                break
            del buffer[:consumed]
            if scan is not None:
                out.append(scan)
        return out

    def decode(self, buffer: bytes | bytearray) -> tuple[int, str | None]:
        """Look at the start of ``buffer``: (bytes consumed, scan or None); (0, None) means need more."""
        end = buffer.find(self.terminator)
        if end < 0:
            if len(buffer) > self.max_length + len(self.terminator):
                # Keep the tail that may be the start of a terminator; drop the rest of the line.
                keep = len(self.terminator) - 1
                if not self._discarding:
                    self._discarding = True
                    self.dropped["overlong"] += 1
                return len(buffer) - keep, None
            return 0, None
        consumed = end + len(self.terminator)
        if self._discarding:
            self._discarding = False  # the end of the overlong line
            return consumed, None
        return consumed, self._scan(bytes(buffer[:end]))

    def _scan(self, frame: bytes) -> str | None:
        if len(frame) > self.max_length:
            self.dropped["overlong"] += 1
            return None
        frame = frame.strip(b"\r\n")  # a CR-terminated scanner that also sends LF, or the reverse
        if self.prefix and frame.startswith(self.prefix):
            frame = frame[len(self.prefix) :]
        if self.suffix and frame.endswith(self.suffix):
            frame = frame[: -len(self.suffix)]
        try:
            text = frame.decode("utf-8")
        except UnicodeDecodeError:
            self.dropped["invalid_utf8"] += 1
            return None
        if not text:
            return None  # an empty line is not noise: scanners send one after some errors
        if any((ch < " " and ch not in _ALLOWED_CONTROLS) or "\x7f" <= ch <= "\x9f" for ch in text):
            self.dropped["binary"] += 1
            return None
        self.scans += 1
        return text
