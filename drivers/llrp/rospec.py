"""Whether the ROSpec really runs, as the reader confirms it, on the reader's thread.

Readers differ in what they do with an Immediate start trigger (some wait for START_ROSPEC anyway), so
the ROSpec is added with a Null start trigger and started with START_ROSPEC: the one path every reader
supports. An answer that refuses it (some readers say it is already active) is logged, not fatal. The
driver says ``inventorying`` only once the reader confirms: GET_ROSPECS shows the ROSpec Active, or tag
reports flow. A ROSpec still not Active after one more START_ROSPEC is a failed session (the driver
reconnects with its backoff).

sllurp 3.0.5 can neither encode GET_ROSPECS nor decode its answer: both are done here with ``struct``.
"""

from __future__ import annotations

import struct
from typing import Any, Final, Protocol

from drivers.llrp import wire
from drivers.llrp.setup import ROSPEC_ID
from gateway.domain.log import get_logger

log = get_logger(__name__)

GET_ROSPECS: Final = 26
START_ROSPEC_RESPONSE: Final = 32
GET_ROSPECS_RESPONSE: Final = 36
ACTIVE: Final = 2
STATES: Final = {0: "disabled", 1: "inactive", 2: "active"}
_P_ROSPEC: Final = 177
_P_LLRP_STATUS: Final = 287
_TLV: Final = struct.Struct("!HH")
_ROSPEC_HEAD: Final = struct.Struct("!IBB")
_STATUS_HEAD: Final = struct.Struct("!HH")


class Link(Protocol):
    """What the ROSpec check needs of the session."""

    def send(self, name: str, fields: dict[str, Any] | None = None) -> int: ...

    def send_raw(self, msg_type: int, body: bytes = b"") -> int: ...

    def publish(self, detail: str, **extra: Any) -> None: ...


def llrp_status(frame: bytes) -> tuple[int, str]:
    """The LLRPStatus of a response: (StatusCode, ErrorDescription); (0, "") when there is none."""
    pos, end = wire.HEADER_SIZE, len(frame)
    while end - pos >= 4:
        ptype, length = _TLV.unpack_from(frame, pos)
        if length < 4 or pos + length > end:
            break
        if ptype & 0x3FF == _P_LLRP_STATUS and length >= 8:
            code, size = _STATUS_HEAD.unpack_from(frame, pos + 4)
            return int(code), frame[pos + 8 : pos + 8 + size].decode("utf-8", "replace")
        pos += length
    return 0, ""


def rospec_states(frame: bytes) -> dict[int, int]:
    """GET_ROSPECS_RESPONSE -> {ROSpecID: CurrentState} (0 disabled, 1 inactive, 2 active)."""
    states: dict[int, int] = {}
    pos, end = wire.HEADER_SIZE, len(frame)
    while end - pos >= 4:
        ptype, length = _TLV.unpack_from(frame, pos)
        if length < 4 or pos + length > end:
            break
        if ptype & 0x3FF == _P_ROSPEC and length >= 4 + _ROSPEC_HEAD.size:
            rospec_id, _priority, state = _ROSPEC_HEAD.unpack_from(frame, pos + 4)
            states[int(rospec_id)] = int(state)
        pos += length
    return states


class RospecRun:
    """Start the ROSpec when reading is wanted and confirm that it runs; see the module docstring.

    ``start(detail)`` wants it running (``detail`` is what the status says once confirmed); ``stopped()``
    when the driver stopped it (a GPI window ended); ``check()`` asks for its state (the no-read
    watchdog's corrective step); ``on_frame`` takes START_ROSPEC_RESPONSE and GET_ROSPECS_RESPONSE;
    ``on_reads`` counts tag reads (reports flowing confirm it too). ``failure`` is set when the ROSpec
    will not start: the session ends with it.
    """

    def __init__(self, reader: str, link: Link) -> None:
        self.reader = reader
        self.link = link
        self.wanted = False
        self.confirmed = False
        self.detail = "inventorying"
        self.restarted = False  # one more START_ROSPEC was sent after the reader said it was not Active
        self.checks = 0  # GET_ROSPECS sent
        self.answers = 0  # GET_ROSPECS_RESPONSE received
        self.last_state: int | None = None
        self.last_state_name = "unknown"  # of the last answer: disabled, inactive, active, missing, unknown
        self.check_id: int | None = None  # message id of the last GET_ROSPECS
        self.step = False  # a corrective step (the watchdog's) waits for its answer
        self.failure: str | None = None

    def start(self, detail: str = "inventorying", **extra: Any) -> None:
        self.wanted, self.confirmed, self.restarted, self.detail = True, False, False, detail
        self.link.send("START_ROSPEC", {"ROSpecID": ROSPEC_ID})
        self.check()
        self.link.publish(detail.replace("inventorying", "starting inventory", 1), **extra)

    def stopped(self) -> None:
        self.wanted = self.confirmed = False

    def check(self) -> None:
        self.checks += 1
        self.check_id = self.link.send_raw(GET_ROSPECS)

    def corrective_step(self) -> None:
        """GET_ROSPECS; START_ROSPEC again if it is not Active (or, on a reader without GET_ROSPECS, at once);
        still not Active after that ends the session."""
        self.restarted, self.step = False, True
        self.check()

    def on_error(self, msg_id: int) -> bool:
        """An ERROR_MESSAGE: True when it answers our GET_ROSPECS (a reader without it)."""
        if msg_id != self.check_id:
            return False
        self._unknown(0, "ERROR_MESSAGE")
        return True

    def on_reads(self, reads: int) -> None:
        if reads and self.wanted and not self.confirmed:
            self._confirm("tag reports")

    def on_frame(self, frame: bytes) -> None:
        kind = wire.message_type(frame)
        code, text = llrp_status(frame)
        if kind == START_ROSPEC_RESPONSE:
            if code != 0:  # e.g. "already active": the GET_ROSPECS that follows tells
                log.info("start_rospec_refused", reader=self.reader, code=code, detail=text, tolerated=True)
            return
        if code != 0:
            self._unknown(code, text)
            return
        state = rospec_states(frame).get(ROSPEC_ID)
        name = STATES.get(state, "missing") if state is not None else "missing"
        self.last_state, self.last_state_name, self.step = state, name, False
        self.answers += 1
        if not self.wanted:
            if state == ACTIVE:  # the reader started it on its own although nothing asked
                log.warning("rospec_active_unasked", reader=self.reader, state=name)
                self.link.send("STOP_ROSPEC", {"ROSpecID": ROSPEC_ID})
            return
        if state == ACTIVE:
            log.info("rospec_state", reader=self.reader, state=name)
            if not self.confirmed:
                self._confirm("GET_ROSPECS")
            return
        log.warning("rospec_not_active", reader=self.reader, state=name, restarted=self.restarted)
        self.confirmed = False
        if self.restarted:
            self.failure = f"ROSpec {ROSPEC_ID} is {name} after START_ROSPEC, twice"
            return
        self.restarted = True
        self.link.send("START_ROSPEC", {"ROSpecID": ROSPEC_ID})
        self.check()

    def _unknown(self, code: int, text: str) -> None:
        """GET_ROSPECS refused: reports confirm instead; a corrective step starts it blind."""
        log.info("get_rospecs_refused", reader=self.reader, code=code, detail=text)
        self.last_state, self.last_state_name = None, "unknown"
        self.answers += 1
        if self.step and self.wanted:
            log.info("start_rospec_blind", reader=self.reader)
            self.link.send("START_ROSPEC", {"ROSpecID": ROSPEC_ID})  # "already active" is tolerated
        self.step = False

    def _confirm(self, by: str) -> None:
        self.confirmed = True
        log.info("inventory_confirmed", reader=self.reader, by=by)
        self.link.publish(self.detail)
