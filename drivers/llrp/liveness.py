"""Whether the link to the reader is alive, on the reader's thread: a quiet reader is not a dead one.

The reader is asked for a KEEPALIVE every ``keepalive``. Once one has arrived, the reader is known to
send them, and nothing at all for ``2 x keepalive`` is a dead (half-open) connection, as before. Some
readers never send KEEPALIVE although asked: when none has come ``2 x keepalive`` into the session, that
is logged once (``keepalives_missing``) and the link is probed instead: after ``keepalive`` with nothing
from the reader, a GET_READER_CONFIG (RequestedData KeepaliveSpec, small), matched by its message id.
Its answer (an ERROR_MESSAGE with that id too) is proof of life, and so is anything else the reader sends
meanwhile; only a probe with no answer and nothing else within ``response_timeout`` is a dead link. So a
reader without keepalives is found dead within ``keepalive + response_timeout`` of its last message, and
a quiet one costs one small request per ``keepalive``.
"""

from __future__ import annotations

import struct
from typing import Final, Protocol

from gateway.domain.log import get_logger

log = get_logger(__name__)

GET_READER_CONFIG: Final = 2
GET_READER_CONFIG_RESPONSE: Final = 12
ERROR_MESSAGE: Final = 100
_KEEPALIVE_SPEC: Final = 8  # GET_READER_CONFIG RequestedData
PROBE_BODY: Final = struct.pack("!HBHH", 0, _KEEPALIVE_SPEC, 0, 0)  # AntennaID, RequestedData, GPI, GPO port


class Link(Protocol):
    def send_raw(self, msg_type: int, body: bytes = b"") -> int: ...


class Liveness:
    """``on_keepalive()`` at each KEEPALIVE, ``on_answer(msg_id)`` with responses (True: it was the probe),
    ``check(now, last_heard)`` often: the reason the link is dead, or None. Monotonic seconds throughout."""

    def __init__(self, reader: str, keepalive: float, response_timeout: float, link: Link, now: float) -> None:
        self.reader = reader
        self.keepalive = keepalive
        self.response_timeout = response_timeout
        self.link = link
        self.started = now
        self.keepalives = 0
        self.probing = False
        self.probes = 0
        self.answers = 0
        self._probe_id: int | None = None
        self._probe_sent = 0.0

    def on_keepalive(self) -> None:
        self.keepalives += 1
        if self.probing:
            self.probing, self._probe_id = False, None
            log.info("keepalives_resumed", reader=self.reader, probes=self.probes)

    def on_answer(self, msg_id: int) -> bool:
        if self._probe_id is None or msg_id != self._probe_id:
            return False
        self._probe_id = None
        self.answers += 1
        return True

    def check(self, now: float, last_heard: float) -> str | None:
        silence = now - last_heard
        if self.keepalives:
            if silence > 2 * self.keepalive:
                return (
                    f"no keepalive and no report for {silence:.1f}s (2x keepalive {self.keepalive:g}s):"
                    " half-open connection"
                )
            return None
        if not self.probing:
            if now - self.started <= 2 * self.keepalive:
                return None
            self.probing = True
            log.warning(
                "keepalives_missing",
                reader=self.reader,
                after_s=round(now - self.started, 1),
                detail=f"probing with GET_READER_CONFIG every {self.keepalive:g}s of silence; no answer within "
                f"{self.response_timeout:g}s = dead connection",
            )
        if self._probe_id is not None:
            if last_heard >= self._probe_sent:  # the reader spoke since: alive, whatever the probe's fate
                self._probe_id = None
            elif now - self._probe_sent > self.response_timeout:
                return (
                    f"no answer to GET_READER_CONFIG within {self.response_timeout:g}s and nothing else for "
                    f"{silence:.1f}s (the reader sends no keepalives): half-open connection"
                )
            else:
                return None
        if silence >= self.keepalive:
            self.probes += 1
            self._probe_sent = now
            self._probe_id = self.link.send_raw(GET_READER_CONFIG, PROBE_BODY)
        return None
