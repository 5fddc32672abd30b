"""One TCP connection to an LLRP reader, driven by the reader's thread.

connect -> ConnectionAttemptEvent -> GET_READER_CAPABILITIES -> (Impinj extensions) -> SET_READER_CONFIG
(keepalive, events, GPI) -> ENABLE_EVENTS_AND_REPORTS -> DELETE_ROSPEC all -> ADD_ROSPEC (Null start
trigger) -> ENABLE_ROSPEC -> START_ROSPEC + GET_ROSPECS, confirmed (``rospec.RospecRun``; on GPI when
gated) -> reports ... -> STOP_ROSPEC, DELETE_ROSPEC, CLOSE_CONNECTION.

A session ends with ``ConnectionFailed`` (saying why) or, when stop() was called, with ``Stopped``; the
driver decides when to try again.
"""

from __future__ import annotations

import queue
import select
import socket
import threading
import time
from collections import deque
from typing import Any, Protocol

from drivers.base import ExceptionSink
from drivers.llrp import setup, wire
from drivers.llrp.gpio import GpiGate, GpoPulses
from drivers.llrp.liveness import ERROR_MESSAGE, GET_READER_CONFIG_RESPONSE, Liveness
from drivers.llrp.rospec import GET_ROSPECS_RESPONSE, START_ROSPEC_RESPONSE, RospecRun
from drivers.llrp.settings import LLRPReaderSettings
from drivers.llrp.watchdog import NoReadWatchdog
from gateway.domain.log import get_logger
from gateway.domain.model import TagRead

log = get_logger(__name__)

POLL_S = 0.05
MAX_BATCH = 5000  # reads handed to the core at once, at most
HELD = "another client holds the reader"
_UNSOLICITED = (wire.RO_ACCESS_REPORT, wire.KEEPALIVE, wire.READER_EVENT_NOTIFICATION)


class ConnectionFailed(Exception):
    """This connection attempt or session is over; ``str()`` says why (for the log and the status)."""


class ReaderHeld(ConnectionFailed):
    """The reader refused us: another client (often a stale session of a previous one) holds it."""

    def __init__(self, status: str) -> None:
        super().__init__(HELD)
        self.status = status


class Stopped(Exception):
    """stop() was called while waiting."""


class Owner(Protocol):
    """What a session hands to its driver, and what it takes from it."""

    on_exception: ExceptionSink | None
    gpo_commands: queue.SimpleQueue[tuple[int, float]]
    steady_outputs: frozenset[int]

    def hand_reads(self, reads: list[TagRead]) -> None: ...

    def set_status(self, state: str, detail: str, **extra: Any) -> None: ...


class Session:
    """One connection: ``handshake()``, ``run()`` until stopped or lost, ``close_politely()``."""

    def __init__(self, settings: LLRPReaderSettings, sock: socket.socket, stop: threading.Event, owner: Owner) -> None:
        self.s = settings
        self.name = settings.name
        self.sock = sock
        self.stop = stop
        self.owner = owner
        self.splitter = wire.FrameSplitter()
        self.pending: deque[bytes] = deque()  # whole frames of the last recv(), taken from the front
        self.decoder = wire.TagReadDecoder(settings.name)
        # Reads of every report from one recv() go to the core as one batch, stamped with one clock
        # reading: per-read work stays in the decoder, per-batch work (queue, wake-up) is paid once.
        self.batch: list[TagRead] = []
        self.received_at = time.time()
        self.last_heard = time.monotonic()
        self.caps = setup.Capabilities()
        self.antennas: dict[int, str] = {}
        self.detail = ""
        self.note = ""  # said after every detail of this session (a fallback the reader forced)
        self.rospec = RospecRun(settings.name, self)
        self.watchdog = NoReadWatchdog(settings.name, settings.no_reads_after, self.rospec, self, time.monotonic())
        self.gate = (
            GpiGate(settings.name, settings.gpi, self, self.rospec, settings.response_timeout, owner.on_exception)
            if settings.gpi is not None
            else None
        )
        self.outputs = GpoPulses(settings.name, self, owner.gpo_commands, owner.steady_outputs)
        self.liveness = Liveness(settings.name, settings.keepalive, settings.response_timeout, self, time.monotonic())
        self.closing = False  # saying goodbye: wait for answers although stop() was called
        self._next_id = 0

    # ---- bytes ---------------------------------------------------------------------------------

    def send(self, name: str, fields: dict[str, Any] | None = None) -> int:
        self._next_id = self._next_id % 0xFFFFFFFF + 1
        self.sock.sendall(wire.encode(name, self._next_id, fields))
        return self._next_id

    def send_raw(self, msg_type: int, body: bytes = b"") -> int:
        """A message sllurp cannot encode (GET_ROSPECS), from its type and body."""
        self._next_id = self._next_id % 0xFFFFFFFF + 1
        self.sock.sendall(wire.HEADER.pack((1 << 10) | msg_type, wire.HEADER_SIZE + len(body), self._next_id) + body)
        return self._next_id

    def next_frame(self, deadline: float) -> bytes | None:
        """The next whole message, or None at ``deadline``."""
        while not self.pending:
            wait = deadline - time.monotonic()
            if wait <= 0:
                return None
            ready, _, _ = select.select([self.sock], [], [], min(wait, POLL_S))
            if not ready:
                if self.stop.is_set() and not self.closing:
                    return None
                continue
            data = self.sock.recv(262144)
            if not data:
                raise ConnectionFailed("the reader closed the connection")
            self.received_at = time.time()
            self.pending.extend(self.splitter.feed(data))
        self.last_heard = time.monotonic()
        return self.pending.popleft()

    def request(self, name: str, fields: dict[str, Any] | None = None, *, required: bool = True) -> dict[str, Any]:
        """Send and wait for the answer with the same message id, handling whatever comes between."""
        msg_id = self.send(name, fields)
        deadline = time.monotonic() + self.s.response_timeout
        while True:
            frame = self.next_frame(deadline)
            if frame is None:
                if self.stop.is_set() and not self.closing:
                    raise Stopped()
                raise ConnectionFailed(f"no answer to {name} within {self.s.response_timeout:g}s")
            if wire.message_id(frame) != msg_id or wire.message_type(frame) in _UNSOLICITED:
                self.dispatch(frame)
                continue
            answer_name, answer = wire.decode(frame)
            status = answer.get("LLRPStatus", {})
            code = status.get("StatusCode", "Success")
            if code != "Success" or answer_name == "ERROR_MESSAGE":
                text = status.get("ErrorDescription", b"")
                text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
                problem = f"{name} answered {answer_name} {code}: {text}"
                if required:
                    raise ConnectionFailed(problem)
                log.info("request_refused", reader=self.name, detail=problem)
            return answer

    # ---- life of a session ---------------------------------------------------------------------

    def handshake(self) -> None:
        s = self.s
        frame = self.next_frame(time.monotonic() + s.response_timeout)
        if frame is None:
            raise ConnectionFailed("the reader sent no ConnectionAttemptEvent")
        name, msg = wire.decode(frame)
        attempt = msg.get("ReaderEventNotificationData", {}).get("ConnectionAttemptEvent")
        if attempt is None:
            raise ConnectionFailed(f"expected a ConnectionAttemptEvent, got {name}")
        if attempt.get("Status") != "Success":
            if "already exists" in str(attempt.get("Status")):
                raise ReaderHeld(str(attempt.get("Status")))
            raise ConnectionFailed(f"the reader refused the connection: {attempt.get('Status')}")
        self.caps = setup.parse_capabilities(self.request("GET_READER_CAPABILITIES", {"RequestedData": 0}))
        inventory = setup.choose_inventory(s, self.caps)
        self.note = setup.gpi_fallback(s, self.caps) or ""
        if self.note:
            self.gate = None
        if inventory.search is not None:
            self.request("IMPINJ_ENABLE_EXTENSIONS", required=False)
        self.request("SET_READER_CONFIG", setup.reader_config(s, gated=self.gate is not None))
        # Needs no answer in LLRP; some readers answer with ERROR_MESSAGE, which dispatch() tolerates.
        self.send("ENABLE_EVENTS_AND_REPORTS")
        self.request("DELETE_ROSPEC", {"ROSpecID": 0}, required=False)
        self.request("ADD_ROSPEC", {"ROSpecID": setup.ROSPEC_ID, "ROSpec": setup.rospec(s, self.caps, inventory)})
        self.request("ENABLE_ROSPEC", {"ROSpecID": setup.ROSPEC_ID})
        self.antennas = dict.fromkeys(s.antennas, "connected")
        if self.gate is None:
            self.rospec.start()  # "starting inventory" until the reader confirms
        else:
            self.rospec.check()  # Inactive, waiting for the gate's START_ROSPEC
            self.publish("waiting for GPI")
        log.info(
            "inventory",
            reader=self.name,
            manufacturer=self.caps.manufacturer,
            model=self.caps.model,
            session=inventory.session,
            mode=inventory.mode,
            search=inventory.search,
            gated=self.gate is not None,
        )

    def run(self) -> None:
        self.liveness.started = time.monotonic()
        while not self.stop.is_set():
            frame = self.next_frame(time.monotonic() + POLL_S)
            if frame is not None:
                self.dispatch(frame)
            now = time.monotonic()
            dead = self.liveness.check(now, self.last_heard)
            if dead is not None:
                raise ConnectionFailed(dead)
            self.watchdog.tick(now)
            if self.rospec.failure is not None:
                raise ConnectionFailed(self.rospec.failure)
            self.outputs.tick(now)
            if self.gate is not None:
                self.gate.tick(now)

    def close_politely(self) -> None:
        """STOP_ROSPEC, DELETE_ROSPEC, CLOSE_CONNECTION; short waits, errors ignored."""
        self.closing = True
        self.sock.settimeout(3.0)
        try:
            self.outputs.all_off()
            for name, fields in (
                ("STOP_ROSPEC", {"ROSpecID": setup.ROSPEC_ID}),
                ("DELETE_ROSPEC", {"ROSpecID": 0}),
                ("CLOSE_CONNECTION", None),
            ):
                self.request(name, fields, required=False)
        except (ConnectionFailed, OSError, wire.FrameError, wire.UndecodableReport) as exc:
            log.info("close_incomplete", reader=self.name, detail=str(exc))
        log.info("closed", reader=self.name)

    # ---- what the reader sends on its own -----------------------------------------------------

    def dispatch(self, frame: bytes) -> None:
        kind = wire.message_type(frame)
        if kind == wire.RO_ACCESS_REPORT:
            try:
                reads = self.decoder.decode(frame, self.received_at)
            except wire.UndecodableReport:
                reads = wire.reads_via_sllurp(frame, self.name, self.received_at)
            batch = self.batch
            batch.extend(reads)
            if reads:
                self.rospec.on_reads(len(reads))
                self.watchdog.on_reads(len(reads))
            if self.gate is not None:
                self.gate.count(len(reads))
            if not self.pending or len(batch) >= MAX_BATCH:
                self.flush()
            return
        self.flush()  # reads before this message go first
        if kind == wire.KEEPALIVE:
            self.liveness.on_keepalive()
            self.sock.sendall(wire.encode("KEEPALIVE_ACK", wire.message_id(frame)))
            return
        if kind in (GET_READER_CONFIG_RESPONSE, ERROR_MESSAGE) and self.liveness.on_answer(wire.message_id(frame)):
            return  # the link probe's answer (a reader without keepalives)
        if kind in (START_ROSPEC_RESPONSE, GET_ROSPECS_RESPONSE):
            self.rospec.on_frame(frame)
            return
        try:
            name, msg = wire.decode(frame)
        except Exception as exc:  # an unknown vendor message must not end the session
            log.info("undecodable_message", reader=self.name, type=kind, error=str(exc))
            return
        if name == "READER_EVENT_NOTIFICATION":
            self._reader_event(msg.get("ReaderEventNotificationData", {}))
        elif name == "ERROR_MESSAGE":
            if self.rospec.on_error(wire.message_id(frame)):
                return
            status = msg.get("LLRPStatus", {})
            log.info(
                "error_message",
                reader=self.name,
                id=wire.message_id(frame),
                code=status.get("StatusCode"),
                detail=status.get("ErrorDescription"),
                tolerated=True,
            )
        elif name.endswith("_RESPONSE"):
            status = msg.get("LLRPStatus", {}).get("StatusCode", "Success")
            if status != "Success":
                log.warning("request_failed", reader=self.name, message=name, status=status)

    def flush(self) -> None:
        if self.batch:
            batch, self.batch = self.batch, []
            self.owner.hand_reads(batch)

    def _reader_event(self, data: dict[str, Any]) -> None:
        if "AntennaEvent" in data:
            event = data["AntennaEvent"]
            antenna = int(event.get("AntennaID", 0))
            state = "connected" if event.get("EventType") == "Connected" else "disconnected"
            self.antennas[antenna] = state
            log.warning("antenna", reader=self.name, antenna=antenna, state=state)
            self.publish(self.detail)
        if "GPIEvent" in data and self.gate is not None:
            event = data["GPIEvent"]
            if int(event.get("GPIPortNumber", 0)) == self.gate.gpi.port:
                self.gate.on_input(bool(event.get("GPIEvent")) == self.gate.gpi.active_high)
        if "ReaderExceptionEvent" in data:
            detail = data["ReaderExceptionEvent"]
            log.warning("reader_exception", reader=self.name, detail=detail)
            self._status(f"reader exception: {detail.get('Message', '')}")
        if "ReportBufferLevelWarningEvent" in data:
            log.warning("report_buffer_filling", reader=self.name, detail=data)

    def publish(self, detail: str, **extra: Any) -> None:
        """Connected, with each antenna's state (and whatever else the caller adds, e.g. the GPI's)."""
        antennas = {str(a): state for a, state in sorted(self.antennas.items())}
        self._status(detail, antennas=antennas, **extra)

    def _status(self, detail: str, **extra: Any) -> None:
        self.detail = detail
        shown = f"{detail} ({self.note})" if self.note else detail
        self.owner.set_status("idle" if self.watchdog.idle else "connected", shown, **extra)
