"""The LLRP reader simulator: a TCP server that accepts one LLRP client at a time and inventories a
scenario for it.

Threading: one acceptor thread; one thread per accepted client that reads, answers, generates tag
reads on a short tick and sends everything for that client. A second concurrent client is refused
by the acceptor with a ConnectionAttemptEvent, so a slow client can block only its own thread.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from simulators.llrp import frames as f
from simulators.llrp.capabilities import VENDORS, ReaderConfig, capabilities_response, reader_config_response
from simulators.llrp.faults import Fault, GpiPulse
from simulators.llrp.recording import Recording, ReplayCursor
from simulators.llrp.rospec import (
    START_IMMEDIATE,
    STATE_ACTIVE,
    STATE_DISABLED,
    STATE_INACTIVE,
    ROSpec,
    parse_rospec,
)
from simulators.llrp.scenario import ReadStream, Scenario, TagRead

log = logging.getLogger("simulators.llrp")

TICK_S = 0.02
MAX_TAGS_PER_REPORT = 1000
SEND_TIMEOUT_S = 10.0
_ID = struct.Struct("!I")

# EventNotificationState event types (section 16.2.6.7.1)
EVENT_GPI = 1
EVENT_ANTENNA = 8
QUIRKS = ("error-on-events-and-reports",)


class _Drop(Exception):
    """A scheduled fault: close this client's connection now."""


@dataclass(frozen=True)
class _Scheduled:
    at_s: float
    kind: str  # drop, silent, garbage, antenna-off, antenna-on, gpi-on, gpi-off
    number: int = 0  # antenna or GPI port


# ROReportTrigger values (section 16.2.7.1)
_UPON_N_TAGS = (1, 2)
_UPON_N_SECONDS = (3, 4)
_UPON_N_MILLISECONDS = (5, 6)


def _now_micros() -> int:
    return time.time_ns() // 1000


@dataclass
class _Inventory:
    """A running ROSpec: the read stream, buffered TagReportData and the report schedule."""

    rospec: ROSpec
    stream: ReadStream
    encoder: f.TagReportEncoder
    mono_start: float
    epoch_start: float
    report_n: int
    report_every_s: float
    stop_at: float | None
    last_report: float
    buffer: list[bytes] = field(default_factory=list)
    scenario_time: float = 0.0
    replay: ReplayCursor | None = None  # a recorded stream instead of the scenario


@dataclass
class _AccessSpec:
    access_spec_id: int
    enabled: bool
    raw: bytes  # parameter body

    def encode(self) -> bytes:
        body = bytearray(self.raw)
        body[7] = (body[7] & 0x7F) | (0x80 if self.enabled else 0)
        return f.tlv(f.P_ACCESS_SPEC, bytes(body))


class LLRPSimulator:
    """An LLRP reader on a TCP port. `start()` binds and serves in background threads, `stop()`
    closes everything and joins its threads; both are idempotent."""

    def __init__(
        self,
        scenario: Scenario,
        host: str = "127.0.0.1",
        port: int = 0,
        antennas: int = 4,
        loop: bool = False,
        speed: float = 1.0,
        vendor: str = "generic",
        faults: Sequence[Fault] = (),
        gpi: Sequence[GpiPulse] = (),
        quirks: Sequence[str] = (),
        replay: Recording | None = None,
        replay_rate: float | None = None,
    ) -> None:
        if not 1 <= antennas <= 64:
            raise ValueError(f"antennas: expected 1-64, got {antennas}")
        if speed <= 0:
            raise ValueError(f"speed: expected a number > 0, got {speed}")
        self.scenario = scenario
        self.host = host
        self.antennas = antennas
        self.loop = loop
        self.speed = speed
        if vendor not in VENDORS:
            raise ValueError(f"vendor: expected one of {', '.join(VENDORS)}, got {vendor!r}")
        unknown_quirks = sorted(set(quirks) - set(QUIRKS))
        if unknown_quirks:
            raise ValueError(f"quirk: expected one of {', '.join(QUIRKS)}, got {unknown_quirks[0]!r}")
        self.vendor = vendor
        self.quirks = frozenset(quirks)
        if replay_rate is not None and replay_rate <= 0:
            raise ValueError(f"rate: expected reads/s > 0, got {replay_rate}")
        self.replay = replay  # when set, a started ROSpec streams this recording (looped) instead of the scenario
        self.replay_rate = replay_rate  # reads/s; None = as fast as the socket takes them
        items = [_Scheduled(x.after_s, x.kind, x.antenna) for x in (*scenario.faults, *faults)]
        for pulse in (*scenario.gpi, *gpi):
            items += [
                _Scheduled(pulse.at_s, "gpi-on", pulse.port),
                _Scheduled(pulse.at_s + pulse.duration_s, "gpi-off", pulse.port),
            ]
        self._schedule = sorted(items, key=lambda x: x.at_s)  # consumed from the front
        self._schedule_t0: float | None = None  # when the first client connected
        self.gpo_writes: list[tuple[int, bool]] = []  # (port, state), in order: tests assert on them
        self.close_connections = 0  # CLOSE_CONNECTION requests received
        self.disconnected_antennas: set[int] = set()
        self.gpi_state: dict[int, bool] = {}
        self._requested_port = port
        self._port = 0
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._acceptor: threading.Thread | None = None
        self._sessions: list[_Session] = []
        self._current: _Session | None = None
        unused = sorted(a for a in scenario.antennas_used() if a > antennas)
        if unused:
            log.warning("event=scenario_antennas_ignored antennas=%s reader_antennas=%d", unused, antennas)

    @property
    def port(self) -> int:
        return self._port

    @property
    def client_connected(self) -> bool:
        with self._lock:
            return self._current is not None

    def start(self) -> None:
        with self._lock:
            if self._acceptor is not None:
                return
            listener = socket.create_server((self.host, self._requested_port), reuse_port=False)
            listener.setblocking(False)
            self._listener = listener
            self._port = listener.getsockname()[1]
            self._stopping.clear()
            self._acceptor = threading.Thread(
                target=self._accept_loop, name=f"llrp-sim-accept-{self._port}", daemon=True
            )
            self._acceptor.start()
        log.info(
            "event=listening host=%s port=%d scenario=%s antennas=%d speed=%s loop=%s vendor=%s scheduled=%d",
            self.host,
            self._port,
            self.scenario.name,
            self.antennas,
            self.speed,
            self.loop,
            self.vendor,
            len(self._schedule),
        )

    def stop(self) -> None:
        with self._lock:
            acceptor = self._acceptor
            if acceptor is None:
                return
            self._stopping.set()
        acceptor.join()
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.join()
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            self._acceptor = None
            self._sessions.clear()
            self._current = None
        log.info("event=stopped port=%d", self._port)

    def __enter__(self) -> LLRPSimulator:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._listener, selectors.EVENT_READ)
            while not self._stopping.is_set():
                if not sel.select(0.1):
                    continue
                try:
                    conn, peer = self._listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    log.warning("event=accept_failed error=%s", exc)
                    continue
                self._admit(conn, f"{peer[0]}:{peer[1]}")

    def _admit(self, conn: socket.socket, peer: str) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(SEND_TIMEOUT_S)
        with self._lock:
            self._sessions = [s for s in self._sessions if s.alive]
            busy = self._current is not None
            if not busy:
                session = _Session(self, conn, peer)
                self._current = session
                self._sessions.append(session)
        if busy:
            log.info("event=client_refused peer=%s reason=client_connection_exists", peer)
            try:
                conn.settimeout(1.0)
                conn.sendall(f.connection_attempt_event(0, f.CONN_FAILED_CLIENT_CONNECTION_EXISTS, _now_micros()))
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
            return
        session.start()

    def _session_ended(self, session: _Session) -> None:
        with self._lock:
            if self._current is session:
                self._current = None


class _Session:
    """One client connection: LLRP request handling, inventory and reports."""

    def __init__(self, sim: LLRPSimulator, sock: socket.socket, peer: str) -> None:
        self.sim = sim
        self.sock = sock
        self.peer = peer
        self.parser = f.FrameParser()
        self.config = ReaderConfig()
        self.rospecs: dict[int, ROSpec] = {}
        self.access_specs: dict[int, _AccessSpec] = {}
        self.inventory: _Inventory | None = None
        self.next_msg_id = 1
        self.closing = False
        self.next_keepalive: float | None = None
        self.reads_sent = 0
        self.silent = False  # half-open fault: nothing is sent or answered any more
        self.thread = threading.Thread(target=self._run, name=f"llrp-sim-client-{peer}", daemon=True)
        self.handlers: dict[int, Callable[[f.Frame], None]] = {
            f.GET_READER_CAPABILITIES: self._get_capabilities,
            f.GET_READER_CONFIG: self._get_config,
            f.SET_READER_CONFIG: self._set_config,
            f.ENABLE_EVENTS_AND_REPORTS: self._enable_events_and_reports,
            f.KEEPALIVE_ACK: self._ignore,
            f.ADD_ROSPEC: self._add_rospec,
            f.DELETE_ROSPEC: self._delete_rospec,
            f.START_ROSPEC: self._start_rospec,
            f.STOP_ROSPEC: self._stop_rospec,
            f.ENABLE_ROSPEC: self._enable_rospec,
            f.DISABLE_ROSPEC: self._disable_rospec,
            f.GET_ROSPECS: self._get_rospecs,
            f.ADD_ACCESSSPEC: self._add_accessspec,
            f.DELETE_ACCESSSPEC: self._delete_accessspec,
            f.ENABLE_ACCESSSPEC: self._enable_accessspec,
            f.DISABLE_ACCESSSPEC: self._disable_accessspec,
            f.GET_ACCESSSPECS: self._get_accessspecs,
            f.GET_REPORT: self._get_report,
            f.CLOSE_CONNECTION: self._close_connection,
            f.CUSTOM_MESSAGE: self._custom_message,
        }

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def start(self) -> None:
        self.thread.start()

    def join(self) -> None:
        if self.thread.is_alive():
            self.thread.join()

    # ---- connection loop ---------------------------------------------------------------------

    def _run(self) -> None:
        log.info("event=client_connected peer=%s", self.peer)
        if self.sim._schedule_t0 is None:
            self.sim._schedule_t0 = time.monotonic()
        reason = "closed"
        try:
            self._send(f.connection_attempt_event(self._reader_msg_id(), f.CONN_SUCCESS, _now_micros()))
            with selectors.DefaultSelector() as sel:
                sel.register(self.sock, selectors.EVENT_READ)
                while not self.closing:
                    if self.sim._stopping.is_set():
                        reason = "simulator_stopped"
                        break
                    if sel.select(self._wait_s()):
                        data = self.sock.recv(65536)
                        if not data:
                            reason = "peer_closed"
                            break
                        self._receive(data)
                    self._tick(time.monotonic())
        except _Drop:
            reason = "fault_drop"
        except f.FrameError as exc:
            reason = "bad_frame"
            log.warning("event=bad_frame peer=%s error=%r", self.peer, str(exc))
            with contextlib.suppress(OSError):
                self._send(f.error_message(exc.msg_id, exc.status, str(exc)))
        except OSError as exc:
            reason = f"socket_error:{exc.__class__.__name__}"
        except Exception:
            reason = "internal_error"
            log.exception("event=session_crashed peer=%s", self.peer)
        finally:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
            self.sim._session_ended(self)
            log.info(
                "event=client_disconnected peer=%s reason=%s reads_sent=%d",
                self.peer,
                reason,
                self.reads_sent,
            )

    def _receive(self, data: bytes) -> None:
        if self.silent:
            return
        for frame in self.parser.feed(data):
            if self.closing:
                return
            handler = self.handlers.get(frame.msg_type)
            if handler is None:
                log.info("event=unsupported_message peer=%s type=%d id=%d", self.peer, frame.msg_type, frame.msg_id)
                self._send(
                    f.error_message(
                        frame.msg_id,
                        f.M_UNSUPPORTED_MESSAGE,
                        f"message type {frame.msg_type} is not supported",
                    )
                )
                continue
            try:
                handler(frame)
            except f.ParameterError as exc:
                log.info(
                    "event=malformed_message peer=%s type=%d id=%d error=%r",
                    self.peer,
                    frame.msg_type,
                    frame.msg_id,
                    str(exc),
                )
                self._send(f.error_message(frame.msg_id, exc.status, str(exc)))

    def _send(self, data: bytes) -> None:
        if not self.silent:
            self.sock.sendall(data)

    # ---- scheduled faults, antenna events and GPI ------------------------------------------------

    def _run_schedule(self, now: float) -> None:
        sim = self.sim
        t0 = sim._schedule_t0
        while sim._schedule and t0 is not None and now - t0 >= sim._schedule[0].at_s:
            item = sim._schedule.pop(0)
            log.info(
                "event=scheduled kind=%s number=%d at_s=%.3f peer=%s", item.kind, item.number, item.at_s, self.peer
            )
            if item.kind == "drop":
                raise _Drop()
            if item.kind == "silent":
                self.silent = True
            elif item.kind == "garbage":
                # version 7 and a length below the header size: no client can re-synchronise after it
                self.sock.sendall(f.HEADER.pack((7 << 10) | f.RO_ACCESS_REPORT, 3, 0) + b"\xde\xad")
            elif item.kind in ("antenna-off", "antenna-on"):
                connected = item.kind == "antenna-on"
                (sim.disconnected_antennas.discard if connected else sim.disconnected_antennas.add)(item.number)
                if self.config.events.get(EVENT_ANTENNA):
                    self._send(
                        f.reader_event(self._reader_msg_id(), _now_micros(), f.antenna_event(item.number, connected))
                    )
            else:
                state = item.kind == "gpi-on"
                sim.gpi_state[item.number] = state
                log.info("event=gpi port=%d state=%d", item.number, int(state))
                if self.config.events.get(EVENT_GPI):
                    self._send(f.reader_event(self._reader_msg_id(), _now_micros(), f.gpi_event(item.number, state)))

    def _reader_msg_id(self) -> int:
        msg_id = self.next_msg_id
        self.next_msg_id = msg_id % 0xFFFFFFFF + 1
        return msg_id

    # ---- time: reads, reports, keepalives ----------------------------------------------------

    def _wait_s(self) -> float:
        inv = self.inventory
        if inv is None or inv.replay is None or self.silent:
            return TICK_S
        return min(TICK_S, inv.replay.wait_s(time.monotonic()))

    def _tick(self, now: float) -> None:
        self._run_schedule(now)
        if self.silent:
            return
        inv = self.inventory
        if inv is not None and inv.replay is not None:
            self.reads_sent += inv.replay.pump(self._send, now)
            if inv.stop_at is not None and now >= inv.stop_at:
                self._end_inventory(STATE_INACTIVE)
        elif inv is not None:
            self._collect(inv, now)
            if inv.report_n:
                while len(inv.buffer) >= inv.report_n:
                    self._send_report(inv, inv.report_n)
            if inv.report_every_s and now - inv.last_report >= inv.report_every_s:
                if inv.buffer:
                    self._flush(inv)
                inv.last_report = now
            if inv.stop_at is not None and now >= inv.stop_at:
                log.info("event=rospec_done peer=%s rospec_id=%d", self.peer, inv.rospec.rospec_id)
                self._end_inventory(STATE_INACTIVE)
        if self.next_keepalive is not None and now >= self.next_keepalive:
            self._send(f.keepalive(self._reader_msg_id()))
            self.next_keepalive = now + self.config.keepalive_ms / 1000.0

    def _collect(self, inv: _Inventory, now: float) -> None:
        sim = self.sim
        scenario_now = (now - inv.mono_start) * sim.speed
        duration = sim.scenario.duration_s
        while sim.loop and duration > 0 and scenario_now >= duration:
            self._encode_reads(inv, inv.stream.reads_until(duration))
            # Restart the scenario; keep wall time continuous.
            inv.mono_start += duration / sim.speed
            inv.epoch_start += duration / sim.speed
            inv.stream = ReadStream(sim.scenario, self._antenna_filter(inv.rospec))
            scenario_now -= duration
            log.info("event=scenario_restarted peer=%s scenario=%s", self.peer, sim.scenario.name)
        self._encode_reads(inv, inv.stream.reads_until(scenario_now))
        inv.scenario_time = scenario_now

    def _encode_reads(self, inv: _Inventory, reads: list[TagRead]) -> None:
        if not reads:
            return
        encoder = inv.encoder
        encode = encoder.encode
        prefix = encoder.prefix
        epoch = inv.epoch_start
        speed = self.sim.speed
        append = inv.buffer.append
        off = self.sim.disconnected_antennas
        for r in reads:
            if off and r.antenna in off:
                continue
            append(encode(prefix(r.epc), r.antenna, r.rssi, int((epoch + r.t_s / speed) * 1_000_000)))

    def _send_report(self, inv: _Inventory, count: int) -> None:
        chunk = inv.buffer[:count]
        del inv.buffer[:count]
        self._send(f.ro_access_report(self._reader_msg_id(), chunk))
        self.reads_sent += len(chunk)
        inv.last_report = time.monotonic()

    def _flush(self, inv: _Inventory) -> None:
        while inv.buffer:
            self._send_report(inv, MAX_TAGS_PER_REPORT)

    def _antenna_filter(self, rospec: ROSpec) -> frozenset[int]:
        all_antennas = frozenset(range(1, self.sim.antennas + 1))
        return rospec.antennas & all_antennas if rospec.antennas else all_antennas

    def _begin_inventory(self, rospec: ROSpec) -> None:
        if self.inventory is not None:
            if self.inventory.rospec.rospec_id == rospec.rospec_id:
                return
            self._end_inventory(STATE_INACTIVE)
        trigger = rospec.report_trigger if rospec.report_trigger is not None else self.config.ro_report_trigger
        n = rospec.report_n if rospec.report_trigger is not None else self.config.ro_report_n
        selector = rospec.selector or self.config.selector
        report_n = n if trigger in _UPON_N_TAGS and n else rospec.observation_n
        every_s = rospec.observation_timeout_ms / 1000.0
        if trigger in _UPON_N_MILLISECONDS and n:
            every_s = n / 1000.0
        elif trigger in _UPON_N_SECONDS and n:
            every_s = float(n)
        elif not every_s and rospec.ai_duration_ms:
            every_s = rospec.ai_duration_ms / 1000.0  # each AISpec run ends and reports
        now = time.monotonic()
        self.inventory = _Inventory(
            rospec=rospec,
            stream=ReadStream(self.sim.scenario, self._antenna_filter(rospec)),
            encoder=f.TagReportEncoder(selector, rospec_id=rospec.rospec_id),
            mono_start=now,
            epoch_start=time.time(),
            report_n=report_n,
            report_every_s=every_s,
            stop_at=now + rospec.stop_duration_ms / 1000.0 if rospec.stop_duration_ms else None,
            last_report=now,
            replay=ReplayCursor(self.sim.replay, self.sim.replay_rate, now) if self.sim.replay is not None else None,
        )
        self.rospecs[rospec.rospec_id] = rospec.with_state(STATE_ACTIVE)
        log.info(
            "event=rospec_started peer=%s rospec_id=%d report_n=%d report_every_s=%.3f antennas=%s",
            self.peer,
            rospec.rospec_id,
            report_n,
            every_s,
            sorted(self._antenna_filter(rospec)),
        )

    def _end_inventory(self, new_state: int) -> None:
        inv = self.inventory
        if inv is None:
            return
        if inv.replay is None:
            self._collect(inv, time.monotonic())
            self._flush(inv)
        self.inventory = None
        rospec_id = inv.rospec.rospec_id
        if rospec_id in self.rospecs:
            self.rospecs[rospec_id] = self.rospecs[rospec_id].with_state(new_state)
        log.info(
            "event=rospec_stopped peer=%s rospec_id=%d scenario_time_s=%.2f",
            self.peer,
            rospec_id,
            inv.scenario_time,
        )

    # ---- request handlers --------------------------------------------------------------------

    def _ok(self, response_type: int, frame: f.Frame, *extra: bytes) -> None:
        self._send(f.response(response_type, frame.msg_id, f.M_SUCCESS, "", *extra))

    def _fail(self, response_type: int, frame: f.Frame, code: int, description: str) -> None:
        log.info(
            "event=request_failed peer=%s type=%d id=%d error=%r",
            self.peer,
            frame.msg_type,
            frame.msg_id,
            description,
        )
        self._send(f.response(response_type, frame.msg_id, code, description))

    def _ignore(self, frame: f.Frame) -> None:
        return None

    @staticmethod
    def _spec_id(frame: f.Frame, what: str) -> int:
        (spec_id,) = f.unpack_exact(_ID, frame.body, what)
        for _ in f.iter_params(frame.body, 4):  # validates any trailing parameters
            pass
        return spec_id

    def _get_capabilities(self, frame: f.Frame) -> None:
        (requested,) = f.unpack_exact(struct.Struct("!B"), frame.body, "GET_READER_CAPABILITIES")
        if requested > 4:
            raise f.ParameterError(f"RequestedData: expected 0-4, got {requested}", f.M_FIELD_ERROR)
        self._send(capabilities_response(frame.msg_id, self.sim.antennas, requested, self.sim.vendor))

    def _get_config(self, frame: f.Frame) -> None:
        f.unpack_exact(struct.Struct("!BHHH"), frame.body, "GET_READER_CONFIG")
        for _ in f.iter_params(frame.body, 7):
            pass
        self._send(reader_config_response(frame.msg_id, self.sim.antennas, self.config))

    def _set_config(self, frame: f.Frame) -> None:
        (flags,) = f.unpack_exact(struct.Struct("!B"), frame.body, "SET_READER_CONFIG")
        params = list(f.iter_params(frame.body, 1))
        config = ReaderConfig() if flags & 0x80 else self.config
        if flags & 0x80:
            self._end_inventory(STATE_DISABLED)
            self.rospecs.clear()
            self.access_specs.clear()
        for p in params:
            if p.type == f.P_KEEPALIVE_SPEC:
                kind, interval = f.unpack_exact(struct.Struct("!BI"), p.value, "KeepaliveSpec")
                if kind == 1 and interval == 0:
                    raise f.ParameterError("KeepaliveSpec.TimeInterval: must be > 0 for periodic", f.M_FIELD_ERROR)
                config.keepalive_ms = interval if kind == 1 else 0
            elif p.type == f.P_RO_REPORT_SPEC:
                trigger, n = f.unpack_exact(struct.Struct("!BH"), p.value, "ROReportSpec")
                config.ro_report_trigger, config.ro_report_n = trigger, n
                for sub in f.iter_params(p.value, 3):
                    if sub.type == f.P_TAG_REPORT_CONTENT_SELECTOR:
                        bits = f.unpack_exact(struct.Struct("!H"), sub.value, "TagReportContentSelector")[0]
                        config.selector = f.ContentSelector.from_flags(bits)
            elif p.type == f.P_READER_EVENT_NOTIFICATION_SPEC:
                for sub in f.iter_params(p.value):
                    if sub.type == f.P_EVENT_NOTIFICATION_STATE:
                        event, state = f.unpack_exact(struct.Struct("!HB"), sub.value, "EventNotificationState")
                        config.events[event] = bool(state & 0x80)
            elif p.type == f.P_GPO_WRITE_DATA:
                port, data = f.unpack_exact(struct.Struct("!HB"), p.value, "GPOWriteData")
                self.sim.gpo_writes.append((port, bool(data & 0x80)))
                log.info("event=gpo port=%d state=%d peer=%s", port, int(bool(data & 0x80)), self.peer)
            elif p.type == f.P_EVENTS_AND_REPORTS:
                (hold,) = f.unpack_exact(struct.Struct("!B"), p.value, "EventsAndReports")
                config.hold_events_on_reconnect = bool(hold & 0x80)
        self.config = config
        self.next_keepalive = time.monotonic() + config.keepalive_ms / 1000.0 if config.keepalive_ms else None
        self._ok(f.SET_READER_CONFIG_RESPONSE, frame)

    def _add_rospec(self, frame: f.Frame) -> None:
        params = list(f.iter_params(frame.body))
        specs = [p for p in params if p.type == f.P_ROSPEC]
        if len(specs) != 1:
            raise f.ParameterError(
                f"ADD_ROSPEC: expected one ROSpec parameter, got {len(specs)}",
                f.M_MISSING_PARAMETER if not specs else f.M_UNEXPECTED_PARAMETER,
            )
        rospec = parse_rospec(specs[0].value)
        if rospec.rospec_id in self.rospecs:
            self._fail(f.ADD_ROSPEC_RESPONSE, frame, f.M_FIELD_ERROR, f"ROSpecID {rospec.rospec_id} already exists")
            return
        self.rospecs[rospec.rospec_id] = rospec
        log.info("event=rospec_added peer=%s rospec_id=%d", self.peer, rospec.rospec_id)
        self._ok(f.ADD_ROSPEC_RESPONSE, frame)

    def _targets(self, spec_id: int, frame: f.Frame, response_type: int) -> list[int] | None:
        if spec_id == 0:
            return sorted(self.rospecs)
        if spec_id not in self.rospecs:
            self._fail(response_type, frame, f.M_FIELD_ERROR, f"no ROSpec with ROSpecID {spec_id}")
            return None
        return [spec_id]

    def _delete_rospec(self, frame: f.Frame) -> None:
        ids = self._targets(self._spec_id(frame, "DELETE_ROSPEC"), frame, f.DELETE_ROSPEC_RESPONSE)
        if ids is None:
            return
        for rospec_id in ids:
            if self.inventory is not None and self.inventory.rospec.rospec_id == rospec_id:
                self._end_inventory(STATE_DISABLED)
            del self.rospecs[rospec_id]
        self._ok(f.DELETE_ROSPEC_RESPONSE, frame)

    def _enable_rospec(self, frame: f.Frame) -> None:
        ids = self._targets(self._spec_id(frame, "ENABLE_ROSPEC"), frame, f.ENABLE_ROSPEC_RESPONSE)
        if ids is None:
            return
        to_start = []
        for rospec_id in ids:
            rospec = self.rospecs[rospec_id]
            if rospec.state == STATE_DISABLED:
                self.rospecs[rospec_id] = rospec.with_state(STATE_INACTIVE)
                if rospec.start_trigger == START_IMMEDIATE:
                    to_start.append(rospec_id)
        self._ok(f.ENABLE_ROSPEC_RESPONSE, frame)
        for rospec_id in to_start:
            self._begin_inventory(self.rospecs[rospec_id])

    def _start_rospec(self, frame: f.Frame) -> None:
        rospec_id = self._spec_id(frame, "START_ROSPEC")
        rospec = self.rospecs.get(rospec_id)
        if rospec is None:
            self._fail(f.START_ROSPEC_RESPONSE, frame, f.M_FIELD_ERROR, f"no ROSpec with ROSpecID {rospec_id}")
            return
        if rospec.state == STATE_DISABLED:
            self._fail(f.START_ROSPEC_RESPONSE, frame, f.M_FIELD_ERROR, f"ROSpec {rospec_id} is disabled")
            return
        self._ok(f.START_ROSPEC_RESPONSE, frame)
        self._begin_inventory(rospec)

    def _stop_rospec(self, frame: f.Frame) -> None:
        rospec_id = self._spec_id(frame, "STOP_ROSPEC")
        if rospec_id not in self.rospecs:
            self._fail(f.STOP_ROSPEC_RESPONSE, frame, f.M_FIELD_ERROR, f"no ROSpec with ROSpecID {rospec_id}")
            return
        if self.inventory is not None and self.inventory.rospec.rospec_id == rospec_id:
            self._end_inventory(STATE_INACTIVE)
        self._ok(f.STOP_ROSPEC_RESPONSE, frame)

    def _disable_rospec(self, frame: f.Frame) -> None:
        ids = self._targets(self._spec_id(frame, "DISABLE_ROSPEC"), frame, f.DISABLE_ROSPEC_RESPONSE)
        if ids is None:
            return
        for rospec_id in ids:
            if self.inventory is not None and self.inventory.rospec.rospec_id == rospec_id:
                self._end_inventory(STATE_DISABLED)
            self.rospecs[rospec_id] = self.rospecs[rospec_id].with_state(STATE_DISABLED)
        self._ok(f.DISABLE_ROSPEC_RESPONSE, frame)

    def _get_rospecs(self, frame: f.Frame) -> None:
        self._ok(f.GET_ROSPECS_RESPONSE, frame, *(self.rospecs[i].encode() for i in sorted(self.rospecs)))

    def _add_accessspec(self, frame: f.Frame) -> None:
        specs = [p for p in f.iter_params(frame.body) if p.type == f.P_ACCESS_SPEC]
        if len(specs) != 1:
            raise f.ParameterError(
                f"ADD_ACCESSSPEC: expected one AccessSpec parameter, got {len(specs)}",
                f.M_MISSING_PARAMETER if not specs else f.M_UNEXPECTED_PARAMETER,
            )
        raw = specs[0].value
        access_id, _antenna, _protocol, flags, _rospec = f.unpack_exact(struct.Struct("!IHBBI"), raw, "AccessSpec")
        for _ in f.iter_params(raw, 12):
            pass
        if access_id == 0 or access_id in self.access_specs:
            self._fail(
                f.ADD_ACCESSSPEC_RESPONSE,
                frame,
                f.M_FIELD_ERROR,
                f"AccessSpecID {access_id} is 0 or already exists",
            )
            return
        self.access_specs[access_id] = _AccessSpec(access_id, bool(flags & 0x80), raw)
        self._ok(f.ADD_ACCESSSPEC_RESPONSE, frame)

    def _access_targets(self, frame: f.Frame, what: str, response_type: int) -> list[int] | None:
        access_id = self._spec_id(frame, what)
        if access_id == 0:
            return sorted(self.access_specs)
        if access_id not in self.access_specs:
            self._fail(response_type, frame, f.M_FIELD_ERROR, f"no AccessSpec with AccessSpecID {access_id}")
            return None
        return [access_id]

    def _delete_accessspec(self, frame: f.Frame) -> None:
        ids = self._access_targets(frame, "DELETE_ACCESSSPEC", f.DELETE_ACCESSSPEC_RESPONSE)
        if ids is not None:
            for access_id in ids:
                del self.access_specs[access_id]
            self._ok(f.DELETE_ACCESSSPEC_RESPONSE, frame)

    def _enable_accessspec(self, frame: f.Frame) -> None:
        ids = self._access_targets(frame, "ENABLE_ACCESSSPEC", f.ENABLE_ACCESSSPEC_RESPONSE)
        if ids is not None:
            for access_id in ids:
                self.access_specs[access_id].enabled = True
            self._ok(f.ENABLE_ACCESSSPEC_RESPONSE, frame)

    def _disable_accessspec(self, frame: f.Frame) -> None:
        ids = self._access_targets(frame, "DISABLE_ACCESSSPEC", f.DISABLE_ACCESSSPEC_RESPONSE)
        if ids is not None:
            for access_id in ids:
                self.access_specs[access_id].enabled = False
            self._ok(f.DISABLE_ACCESSSPEC_RESPONSE, frame)

    def _get_accessspecs(self, frame: f.Frame) -> None:
        specs = (self.access_specs[i].encode() for i in sorted(self.access_specs))
        self._ok(f.GET_ACCESSSPECS_RESPONSE, frame, *specs)

    def _get_report(self, frame: f.Frame) -> None:
        inv = self.inventory
        if inv is not None:
            self._collect(inv, time.monotonic())
            self._flush(inv)

    def _enable_events_and_reports(self, frame: f.Frame) -> None:
        # The message needs no answer; some readers and emulators answer it with ERROR_MESSAGE anyway.
        if "error-on-events-and-reports" in self.sim.quirks:
            self._send(f.error_message(frame.msg_id, f.M_UNSUPPORTED_MESSAGE, "unsupported"))

    def _close_connection(self, frame: f.Frame) -> None:
        self.sim.close_connections += 1
        log.info("event=close_connection peer=%s", self.peer)
        self._end_inventory(STATE_INACTIVE)
        self._ok(f.CLOSE_CONNECTION_RESPONSE, frame)
        self.closing = True

    def _custom_message(self, frame: f.Frame) -> None:
        vendor, subtype = f.unpack_exact(struct.Struct("!IB"), frame.body, "CUSTOM_MESSAGE")
        if vendor == f.IMPINJ_VENDOR_ID and subtype == f.IMPINJ_ENABLE_EXTENSIONS:
            self._send(
                f.custom_message(f.IMPINJ_VENDOR_ID, f.IMPINJ_ENABLE_EXTENSIONS_RESPONSE, frame.msg_id, f.llrp_status())
            )
            return
        self._send(
            f.error_message(
                frame.msg_id,
                f.M_UNSUPPORTED_MESSAGE,
                f"custom message vendor {vendor} subtype {subtype} is not supported",
            )
        )
