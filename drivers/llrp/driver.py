"""LLRP fixed readers (Impinj, Zebra and any LLRP 1.0.1 reader): dockgate's own connection state
machine around sllurp's message codec.

Why not sllurp's client: an ERROR_MESSAGE during configuration is fatal to it, it never notices that
keepalives stopped, its ROSpec cannot wait for a GPI, and its reconnect gives up. sllurp stays the
encoder/decoder of the control messages (``drivers/llrp_wire.py``); tag reports take a ``struct`` fast
path. One thread per reader does everything for that reader (socket, keepalive watchdog, GPI gating,
GPO pulses), so a failing or flooding reader never holds up another one.

Session: connect -> ConnectionAttemptEvent -> GET_READER_CAPABILITIES -> (Impinj extensions) ->
SET_READER_CONFIG (keepalive, events, GPI) -> ENABLE_EVENTS_AND_REPORTS -> DELETE_ROSPEC all ->
ADD_ROSPEC -> ENABLE_ROSPEC (-> START_ROSPEC / STOP_ROSPEC on GPI) -> reports ... -> STOP_ROSPEC,
DELETE_ROSPEC, CLOSE_CONNECTION. Reconnects forever with tenacity (exponential backoff, jitter).
"""

from __future__ import annotations

import logging
import queue
import select
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_never, wait_exponential, wait_random

from drivers import llrp_wire as wire
from drivers.base import ReadSink, StatusSink, SupervisedDriver
from gateway.config import LLRPGpoPulse, LLRPReaderSettings
from gateway.domain.model import LocationEvent, ReaderException, TagRead

log = logging.getLogger(__name__)

ROSPEC_ID = 1
_POLL_S = 0.05
_HEALTHY_S = 10.0  # a session connected this long resets the backoff
_MAX_BATCH = 5000  # reads handed to the core at once, at most
IMPINJ = 25882
ZEBRA = 10642

# vendor preset -> (session, reader mode, Impinj search mode); docs/llrp.md says why
PRESETS: dict[str, tuple[int, int | None, str | None]] = {
    "impinj": (1, 1000, "dual_target"),
    "zebra": (0, None, None),
    "generic": (0, None, None),
}
_SEARCH_MODES = {"single_target": 1, "dual_target": 2, "single_target_suppression": 3}
_FIELDS = {
    "antenna": "EnableAntennaID",
    "rssi": "EnablePeakRSSI",
    "first_seen": "EnableFirstSeenTimestamp",
    "last_seen": "EnableLastSeenTimestamp",
    "seen_count": "EnableTagSeenCount",
    "channel": "EnableChannelIndex",
}


class ConnectionFailed(Exception):
    """This connection attempt or session is over; ``str()`` says why (for the log and the status)."""


class _Stopped(Exception):
    """stop() was called while waiting."""


@dataclass
class _Capabilities:
    manufacturer: int = 0
    model: int = 0
    antennas: int = 0
    gpis: int = 0
    gpos: int = 0
    power: list[tuple[int, float]] = field(default_factory=list)  # (index, dBm)
    modes: list[int] = field(default_factory=list)


def nearest_power(table: list[tuple[int, float]], dbm: float | None) -> tuple[int, float]:
    """The table entry nearest ``dbm`` (the highest when None); ties go to the lower power."""
    if not table:
        return 0, 0.0
    if dbm is None:
        return max(table, key=lambda e: e[1])
    return min(table, key=lambda e: (abs(e[1] - dbm), e[1]))


class LLRPDriver(SupervisedDriver):
    """One LLRP reader. ``start``/``stop`` are idempotent; everything else runs on the reader's thread."""

    settings: LLRPReaderSettings
    thread_prefix = "llrp"
    stop_timeout_s = 15.0

    def __init__(self, settings: LLRPReaderSettings, on_reads: ReadSink, on_status: StatusSink) -> None:
        super().__init__(settings, on_reads, on_status)
        self._commands: queue.SimpleQueue[tuple[int, float]] = queue.SimpleQueue()  # GPO (port, pulse)
        self.reads = 0
        self.attempts = 0
        self.sessions = 0  # sessions that reached inventory
        self.locations: set[str] = set()  # doors this reader watches; set by the core
        self.door: str | None = settings.gpi.location if settings.gpi else None
        self.antennas: dict[int, str] = {}
        self._sock: socket.socket | None = None
        self._next_id = 0
        self._extra: dict[str, Any] = {}
        self._status = ("disconnected", "")
        self._gpo_by_type: dict[str, LLRPGpoPulse] = {str(k): v for k, v in settings.gpo.items()}

    # ---- interface -----------------------------------------------------------------------------

    def on_event(self, event: LocationEvent) -> None:
        pulse = self._gpo_by_type.get(event.type)
        if pulse is None:
            return
        doors = {self.door} if self.door else self.locations
        if event.location in doors or event.reader == self.name:
            self._commands.put((pulse.port, pulse.pulse))

    # ---- supervisor ----------------------------------------------------------------------------

    def _supervise(self) -> None:
        s = self.settings
        while not self._stop.is_set():
            retrying = Retrying(
                stop=stop_never,
                # min, 2*min, 4*min ... up to max, plus up to min of random jitter
                wait=wait_exponential(multiplier=s.reconnect_delay_min, max=s.reconnect_delay_max)
                + wait_random(0, s.reconnect_delay_min),
                retry=retry_if_exception_type(ConnectionFailed),
                sleep=self._sleep,
                before_sleep=self._before_sleep,
                reraise=True,
            )
            try:
                retrying(self._session)
            except _Stopped:
                break
            except _Restart:
                continue
            except Exception:  # a bug must not end the reader: log, back off, go on
                log.exception("reader=%s event=session_crashed", self.name)
                if self._stop.wait(s.reconnect_delay_max):
                    break
        self._set_status("disconnected", "stopped")

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopped()

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "reader=%s event=reconnect attempt=%d delay_s=%.1f reason=%s",
            self.name,
            state.attempt_number,
            delay,
            exc,
        )

    def _set_status(self, state: str, detail: str, **extra: Any) -> None:
        if extra:
            self._extra.update(extra)
        if state == "disconnected":
            self._extra.pop("antennas", None)
        self._status = (state, detail)
        self._on_status(self.name, state, detail, dict(self._extra))

    # ---- one session ---------------------------------------------------------------------------

    def _session(self) -> None:
        s = self.settings
        self.attempts += 1
        self._set_status("connecting", f"attempt {self.attempts}")
        try:
            sock = socket.create_connection((s.host, s.port), timeout=s.response_timeout)
        except OSError as exc:
            raise self._lost(f"cannot connect to {s.host}:{s.port}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(s.response_timeout)
        self._sock = sock
        session = _Session(self, sock)
        connected_at: float | None = None
        try:
            session.handshake()
            connected_at = time.monotonic()
            self.sessions += 1
            session.run()
            session.close_politely()
        except (OSError, wire.FrameError, wire.UndecodableReport) as exc:
            raise self._lost(f"connection lost: {exc}", connected_at) from exc
        except ConnectionFailed as exc:
            raise self._lost(str(exc), connected_at) from exc
        finally:
            self._sock = None
            sock.close()
        if self._stop.is_set():
            raise _Stopped()

    def _lost(self, detail: str, connected_at: float | None = None) -> Exception:
        self._set_status("disconnected", detail)
        if self._stop.is_set():
            return _Stopped()
        if connected_at is not None and time.monotonic() - connected_at >= _HEALTHY_S:
            # It worked for a while: reconnect at once, with the backoff started over.
            log.warning("reader=%s event=reconnect attempt=1 delay_s=0.0 reason=%s", self.name, detail)
            self.attempts = 0
            return _Restart()
        return ConnectionFailed(detail)

    def _message_id(self) -> int:
        self._next_id = self._next_id % 0xFFFFFFFF + 1
        return self._next_id

    def _hand_reads(self, reads: list[TagRead]) -> None:
        if reads:
            self.reads += len(reads)
            self._on_reads(reads)


class _Restart(Exception):
    """The session was healthy before it ended: reconnect now, backoff from the start."""


class _Session:
    """One TCP connection to the reader, driven by the reader's thread."""

    def __init__(self, driver: LLRPDriver, sock: socket.socket) -> None:
        self.d = driver
        self.s = driver.settings
        self.sock = sock
        self.splitter = wire.FrameSplitter()
        self.pending: list[bytes] = []
        self.decoder = wire.TagReadDecoder(driver.name)
        # Reads of every report from one recv() go to the core as one batch, stamped with one clock
        # reading: per-read work stays in the decoder, per-batch work (queue, wake-up) is paid once.
        self.batch: list[TagRead] = []
        self.received_at = time.time()
        self.last_heard = time.monotonic()
        self.caps = _Capabilities()
        self.gpi_active = False
        self.reading = False
        self.linger_until: float | None = None
        self.window_start = 0.0
        self.window_reads = 0
        self.gpo_off: dict[int, float] = {}
        self.closing = False  # saying goodbye: wait for answers although stop() was called

    # ---- bytes ---------------------------------------------------------------------------------

    def send(self, name: str, fields: dict[str, Any] | None = None) -> int:
        msg_id = self.d._message_id()
        self.sock.sendall(wire.encode(name, msg_id, fields))
        return msg_id

    def next_frame(self, deadline: float) -> bytes | None:
        """The next whole message, or None at ``deadline``."""
        while not self.pending:
            wait = deadline - time.monotonic()
            if wait <= 0:
                return None
            ready, _, _ = select.select([self.sock], [], [], min(wait, _POLL_S))
            if not ready:
                if self.d._stop.is_set() and not self.closing:
                    return None
                continue
            data = self.sock.recv(262144)
            if not data:
                raise ConnectionFailed("the reader closed the connection")
            self.received_at = time.time()
            self.pending.extend(self.splitter.feed(data))
        self.last_heard = time.monotonic()
        return self.pending.pop(0)

    def request(self, name: str, fields: dict[str, Any] | None = None, *, required: bool = True) -> dict[str, Any]:
        """Send and wait for the answer with the same message id, handling whatever comes between."""
        msg_id = self.send(name, fields)
        deadline = time.monotonic() + self.s.response_timeout
        while True:
            frame = self.next_frame(deadline)
            if frame is None:
                if self.d._stop.is_set() and not self.closing:
                    raise _Stopped()
                raise ConnectionFailed(f"no answer to {name} within {self.s.response_timeout:g}s")
            if wire.message_id(frame) == msg_id and wire.message_type(frame) not in (
                wire.RO_ACCESS_REPORT,
                wire.KEEPALIVE,
                wire.READER_EVENT_NOTIFICATION,
            ):
                answer_name, answer = wire.decode(frame)
                status = answer.get("LLRPStatus", {})
                code = status.get("StatusCode", "Success")
                if code != "Success" or answer_name == "ERROR_MESSAGE":
                    text = status.get("ErrorDescription", b"")
                    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
                    problem = f"{name} answered {answer_name} {code}: {text}"
                    if required:
                        raise ConnectionFailed(problem)
                    log.info("reader=%s event=request_refused detail=%s", self.d.name, problem)
                return answer
            self.dispatch(frame)

    # ---- life of a session ---------------------------------------------------------------------

    def handshake(self) -> None:
        d, s = self.d, self.s
        frame = self.next_frame(time.monotonic() + s.response_timeout)
        if frame is None:
            raise ConnectionFailed("the reader sent no ConnectionAttemptEvent")
        name, msg = wire.decode(frame)
        attempt = msg.get("ReaderEventNotificationData", {}).get("ConnectionAttemptEvent")
        if attempt is None:
            raise ConnectionFailed(f"expected a ConnectionAttemptEvent, got {name}")
        if attempt.get("Status") != "Success":
            if "already exists" in str(attempt.get("Status")):
                raise ConnectionFailed("another client holds the reader")
            raise ConnectionFailed(f"the reader refused the connection: {attempt.get('Status')}")
        caps = self.request("GET_READER_CAPABILITIES", {"RequestedData": 0})
        self.caps = self._parse_capabilities(caps)
        session, mode, search = self._choose()
        if search is not None:
            self.request("IMPINJ_ENABLE_EXTENSIONS", required=False)
        config: dict[str, Any] = {
            "ResetToFactoryDefaults": False,
            "ReaderEventNotificationSpec": {
                "EventNotificationState": {
                    "GPIEvent": s.gpi is not None,
                    "AntennaEvent": True,
                    "ReaderExceptionEvent": True,
                    "HoppingEvent": False,
                    "ROSpecEvent": False,
                    "ReportBufferFillWarning": True,
                    "RFSurveyEvent": False,
                    "AISpecEvent": False,
                    "AISpecEventWithSingulation": False,
                }
            },
            "KeepaliveSpec": {"KeepaliveTriggerType": 1, "TimeInterval": int(s.keepalive * 1000)},
        }
        if s.gpi is not None:
            config["GPIPortCurrentState"] = [{"GPIPortNum": s.gpi.port, "GPIConfig": True, "GPIState": 0}]
        self.request("SET_READER_CONFIG", config)
        # Needs no answer in LLRP; some readers answer with ERROR_MESSAGE, which dispatch() tolerates.
        self.send("ENABLE_EVENTS_AND_REPORTS")
        self.request("DELETE_ROSPEC", {"ROSpecID": 0}, required=False)
        self.request("ADD_ROSPEC", {"ROSpecID": ROSPEC_ID, "ROSpec": self._rospec(session, mode, search)})
        self.request("ENABLE_ROSPEC", {"ROSpecID": ROSPEC_ID})
        self.reading = s.gpi is None
        d.antennas = {a: "connected" for a in s.antennas}
        self._publish("waiting for GPI" if s.gpi is not None else "inventorying")
        log.info(
            "reader=%s event=inventory manufacturer=%d model=%d session=%d mode=%s search=%s gated=%s",
            d.name,
            self.caps.manufacturer,
            self.caps.model,
            session,
            mode,
            search,
            s.gpi is not None,
        )

    def run(self) -> None:
        d = self.d
        silence = 2 * self.s.keepalive
        while not d._stop.is_set():
            frame = self.next_frame(time.monotonic() + _POLL_S)
            if frame is not None:
                self.dispatch(frame)
            now = time.monotonic()
            if now - self.last_heard > silence:
                raise ConnectionFailed(
                    f"no keepalive and no report for {now - self.last_heard:.1f}s (2x keepalive {self.s.keepalive:g}s):"
                    " half-open connection"
                )
            self._outputs(now)
            self._linger(now)

    def close_politely(self) -> None:
        """STOP_ROSPEC, DELETE_ROSPEC, CLOSE_CONNECTION; short waits, errors ignored."""
        self.closing = True
        self.sock.settimeout(3.0)
        try:
            for port in list(self.gpo_off):
                self._gpo(port, False)
            for name, fields in (
                ("STOP_ROSPEC", {"ROSpecID": ROSPEC_ID}),
                ("DELETE_ROSPEC", {"ROSpecID": 0}),
                ("CLOSE_CONNECTION", None),
            ):
                self.request(name, fields, required=False)
        except (ConnectionFailed, OSError, wire.FrameError, wire.UndecodableReport) as exc:
            log.info("reader=%s event=close_incomplete detail=%s", self.d.name, exc)
        log.info("reader=%s event=closed", self.d.name)

    # ---- what the reader sends on its own -----------------------------------------------------

    def dispatch(self, frame: bytes) -> None:
        kind = wire.message_type(frame)
        if kind == wire.RO_ACCESS_REPORT:
            try:
                reads = self.decoder.decode(frame, self.received_at)
            except wire.UndecodableReport:
                reads = wire.reads_via_sllurp(frame, self.d.name, self.received_at)
            batch = self.batch
            batch.extend(reads)
            if self.linger_until is not None or self.gpi_active:
                self.window_reads += len(reads)
            if not self.pending or len(batch) >= _MAX_BATCH:
                self.flush()
            return
        self.flush()  # reads before this message go first
        if kind == wire.KEEPALIVE:
            self.sock.sendall(wire.encode("KEEPALIVE_ACK", wire.message_id(frame)))
            return
        try:
            name, msg = wire.decode(frame)
        except Exception as exc:  # an unknown vendor message must not end the session
            log.info("reader=%s event=undecodable_message type=%d error=%s", self.d.name, kind, exc)
            return
        if name == "READER_EVENT_NOTIFICATION":
            self._reader_event(msg.get("ReaderEventNotificationData", {}))
        elif name == "ERROR_MESSAGE":
            status = msg.get("LLRPStatus", {})
            log.info(
                "reader=%s event=error_message id=%d code=%s detail=%s (tolerated)",
                self.d.name,
                wire.message_id(frame),
                status.get("StatusCode"),
                status.get("ErrorDescription"),
            )
        elif name.endswith("_RESPONSE"):
            status = msg.get("LLRPStatus", {}).get("StatusCode", "Success")
            if status != "Success":
                log.warning("reader=%s event=request_failed message=%s status=%s", self.d.name, name, status)

    def flush(self) -> None:
        if self.batch:
            batch, self.batch = self.batch, []
            self.d._hand_reads(batch)

    def _reader_event(self, data: dict[str, Any]) -> None:
        d = self.d
        if "AntennaEvent" in data:
            event = data["AntennaEvent"]
            antenna = int(event.get("AntennaID", 0))
            state = "connected" if event.get("EventType") == "Connected" else "disconnected"
            d.antennas[antenna] = state
            log.warning("reader=%s event=antenna antenna=%d state=%s", d.name, antenna, state)
            self._publish(d._status[1])
        if "GPIEvent" in data and self.s.gpi is not None:
            event = data["GPIEvent"]
            if int(event.get("GPIPortNumber", 0)) == self.s.gpi.port:
                self._gpi(bool(event.get("GPIEvent")) == self.s.gpi.active_high)
        if "ReaderExceptionEvent" in data:
            log.warning("reader=%s event=reader_exception detail=%s", d.name, data["ReaderExceptionEvent"])
            d._set_status("connected", f"reader exception: {data['ReaderExceptionEvent'].get('Message', '')}")
        if "ReportBufferLevelWarningEvent" in data:
            log.warning("reader=%s event=report_buffer_filling detail=%s", d.name, data)

    # ---- GPI gating and GPO outputs -----------------------------------------------------------

    def _gpi(self, active: bool) -> None:
        assert self.s.gpi is not None
        now = time.monotonic()
        self.gpi_active = active
        log.info("reader=%s event=gpi port=%d active=%s", self.d.name, self.s.gpi.port, active)
        if active:
            self.linger_until = None
            if not self.reading:
                self.window_start = time.time()
                self.window_reads = 0
                self.send("START_ROSPEC", {"ROSpecID": ROSPEC_ID})
                self.reading = True
                self._publish("inventorying (GPI active)", gpi={str(self.s.gpi.port): "active"})
        elif self.reading:
            self.linger_until = now + self.s.gpi.linger

    def _linger(self, now: float) -> None:
        if self.linger_until is None or now < self.linger_until:
            return
        assert self.s.gpi is not None
        self.linger_until = None
        self.send("STOP_ROSPEC", {"ROSpecID": ROSPEC_ID})
        self.reading = False
        self._publish("waiting for GPI", gpi={str(self.s.gpi.port): "inactive"})
        # Reports for the window may still be in flight: the reader flushes them on STOP_ROSPEC,
        # before its STOP_ROSPEC_RESPONSE. Wait for that answer so they are counted.
        deadline = time.monotonic() + self.s.response_timeout
        while True:
            frame = self.next_frame(deadline)
            if frame is None:
                break
            kind = wire.message_type(frame)
            self.dispatch(frame)
            if kind == 33:  # STOP_ROSPEC_RESPONSE
                break
        reads = self.window_reads
        log.info("reader=%s event=gpi_window_end reads=%d", self.d.name, reads)
        if reads == 0:
            # "" = the location of this reader's read points, resolved by the core
            location = self.d.door or (sorted(self.d.locations)[0] if self.d.locations else "")
            sink = self.d.on_exception
            if sink is not None:
                sink(
                    ReaderException(
                        self.d.name,
                        location,
                        "no_read",
                        time.time(),
                        {"gpi_port": self.s.gpi.port, "window_start": self.window_start},
                    )
                )

    def _outputs(self, now: float) -> None:
        while True:
            try:
                port, pulse = self.d._commands.get_nowait()
            except queue.Empty:
                break
            self._gpo(port, True)
            self.gpo_off[port] = now + pulse
        for port, off_at in list(self.gpo_off.items()):
            if now >= off_at:
                del self.gpo_off[port]
                self._gpo(port, False)

    def _gpo(self, port: int, state: bool) -> None:
        log.info("reader=%s event=gpo port=%d state=%d", self.d.name, port, int(state))
        self.send(
            "SET_READER_CONFIG",
            {"ResetToFactoryDefaults": False, "GPOWriteData": [{"GPOPortNumber": port, "GPOData": state}]},
        )

    def _publish(self, detail: str, **extra: Any) -> None:
        antennas = {str(a): state for a, state in sorted(self.d.antennas.items())}
        self.d._set_status("connected", detail, antennas=antennas, **extra)

    # ---- configuration from capabilities -------------------------------------------------------

    def _parse_capabilities(self, msg: dict[str, Any]) -> _Capabilities:
        caps = _Capabilities()
        general = msg.get("GeneralDeviceCapabilities", {})
        caps.manufacturer = int(general.get("DeviceManufacturerName", 0))
        caps.model = int(general.get("ModelName", 0))
        caps.antennas = int(general.get("MaxNumberOfAntennaSupported", 0))
        gpio = general.get("GPIOCapabilities", {})
        caps.gpis, caps.gpos = int(gpio.get("NumGPIs", 0)), int(gpio.get("NumGPOs", 0))
        band = msg.get("RegulatoryCapabilities", {}).get("UHFBandCapabilities", {})
        power = band.get("TransmitPowerLevelTableEntry", [])
        caps.power = [(int(p["Index"]), int(p["TransmitPowerValue"]) / 100.0) for p in power]
        modes = band.get("UHFC1G2RFModeTable", {}).get("UHFC1G2RFModeTableEntry", [])
        if isinstance(modes, dict):
            modes = [modes]
        caps.modes = [int(m["ModeIdentifier"]) for m in modes]
        return caps

    def _choose(self) -> tuple[int, int | None, str | None]:
        d, s, caps = self.d, self.s, self.caps
        preset_session, preset_mode, preset_search = PRESETS[s.vendor]
        session = s.session if s.session is not None else preset_session
        mode = s.reader_mode if s.reader_mode is not None else preset_mode
        if mode is not None and caps.modes and mode not in caps.modes:
            log.warning(
                "reader=%s event=setting_unsupported setting=reader_mode value=%d offered=%s fallback=%d",
                d.name,
                mode,
                caps.modes,
                caps.modes[0],
            )
            mode = caps.modes[0]
        search = s.search_mode if s.search_mode is not None else preset_search
        if search is not None and caps.manufacturer != IMPINJ:
            log.warning(
                "reader=%s event=setting_unsupported setting=search_mode value=%s manufacturer=%d "
                "fallback=none detail=an Impinj extension",
                d.name,
                search,
                caps.manufacturer,
            )
            search = None
        if s.gpi is not None and caps.gpis and s.gpi.port > caps.gpis:
            log.warning(
                "reader=%s event=setting_unsupported setting=gpi.port value=%d gpis=%d", d.name, s.gpi.port, caps.gpis
            )
        if caps.antennas:
            beyond = [a for a in s.antennas if a > caps.antennas]
            if beyond:
                log.warning(
                    "reader=%s event=setting_unsupported setting=antennas value=%s max=%d",
                    d.name,
                    beyond,
                    caps.antennas,
                )
        return session, mode, search

    def _power_index(self, antenna: int) -> int:
        tx = self.s.tx_power
        wanted = tx.get(antenna) if isinstance(tx, dict) else tx
        index, dbm = nearest_power(self.caps.power, wanted)
        log.info(
            "reader=%s event=tx_power antenna=%d wanted_dbm=%s used_dbm=%.2f index=%d",
            self.d.name,
            antenna,
            "max" if wanted is None else f"{wanted:g}",
            dbm,
            index,
        )
        return index

    def _rospec(self, session: int, mode: int | None, search: str | None) -> dict[str, Any]:
        from sllurp.llrp_proto import LLRPROSpec

        s = self.s
        selector = {flag: name in s.report_fields for name, flag in _FIELDS.items()}
        selector.update(EnableROSpecID=False, EnableSpecIndex=False, EnableInventoryParameterSpecID=False)
        selector["EnableAccessSpecID"] = False
        rospec: dict[str, Any] = LLRPROSpec(
            {"ModeIdentifier": mode, "MaxTari": 0} if mode is not None else None,
            ROSPEC_ID,
            antennas=list(s.antennas),
            tx_power={a: self._power_index(a) for a in s.antennas},
            report_every_n_tags=s.report_every_n_tags,
            report_timeout_ms=max(1, int(s.report_timeout * 1000)),
            tag_content_selector=selector,
            session=session,
            tag_population=s.tag_population,
            impinj_search_mode=_SEARCH_MODES[search] if search is not None else None,
        )
        if s.gpi is not None:  # gated: the driver starts and stops it on GPI events
            rospec["ROBoundarySpec"]["ROSpecStartTrigger"]["ROSpecStartTriggerType"] = "Null"
        return rospec
