"""One client connection to the simulated reader: read frames and answer them, run the inventory on a
short tick, send reports, keepalives and reader events, and play the field schedule's faults.

Threading: everything for one client runs on that client's thread, so a slow client blocks only itself.
ROSpec and AccessSpec requests are answered by ``specs.py``, a running ROSpec's reads come from
``inventory.py``; this module owns the socket, the message ids and the reader configuration.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable

from simulators.llrp import frames as f
from simulators.llrp.capabilities import ReaderConfig, capabilities_response, reader_config_response
from simulators.llrp.field_events import FieldEvent
from simulators.llrp.inventory import Inventory
from simulators.llrp.reader import Reader, utc_micros
from simulators.llrp.rospec import STATE_ACTIVE, STATE_DISABLED, STATE_INACTIVE, ROSpec
from simulators.llrp.specs import SpecRequests

log = logging.getLogger("simulators.llrp")

TICK_S = 0.02
MAX_TAGS_PER_REPORT = 1000

# EventNotificationState event types (section 16.2.6.7.1)
EVENT_GPI = 1
EVENT_ANTENNA = 8


class _Drop(Exception):
    """A scheduled fault: close this client's connection now."""


class ClientSession:
    """One client connection. ``start()`` runs it on its own thread; ``on_end`` is called when it ends."""

    def __init__(self, reader: Reader, sock: socket.socket, peer: str, on_end: Callable[[ClientSession], None]) -> None:
        self.reader = reader
        self.sock = sock
        self.peer = peer
        self.on_end = on_end
        self.parser = f.FrameParser()
        self.config = ReaderConfig()
        self.specs = SpecRequests(self, peer, "start-needs-start-rospec" not in reader.quirks)
        self.inventory: Inventory | None = None
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
            **self.specs.handlers(),
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
        self.reader.schedule.client_connected(time.monotonic())
        self.reader.link.client_connected(time.monotonic())
        reason = "closed"
        try:
            self._send(f.connection_attempt_event(self._reader_msg_id(), f.CONN_SUCCESS, utc_micros()))
            with selectors.DefaultSelector() as sel:
                sel.register(self.sock, selectors.EVENT_READ)
                while not self.closing:
                    if self.reader.stopping.is_set():
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
            self.on_end(self)
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

    def _reader_msg_id(self) -> int:
        msg_id = self.next_msg_id
        self.next_msg_id = msg_id % 0xFFFFFFFF + 1
        return msg_id

    # ---- the field schedule: faults, antenna events and GPI -------------------------------------

    def _play(self, event: FieldEvent) -> None:
        reader = self.reader
        log.info("event=scheduled kind=%s number=%d at_s=%.3f peer=%s", event.kind, event.number, event.at_s, self.peer)
        if event.kind == "drop":
            raise _Drop()
        if event.kind == "silent":
            self.silent = True
        elif event.kind == "garbage":
            # version 7 and a length below the header size: no client can re-synchronise after it
            self.sock.sendall(f.HEADER.pack((7 << 10) | f.RO_ACCESS_REPORT, 3, 0) + b"\xde\xad")
        elif event.kind in ("antenna-off", "antenna-on"):
            connected = event.kind == "antenna-on"
            (reader.disconnected_antennas.discard if connected else reader.disconnected_antennas.add)(event.number)
            if self.config.events.get(EVENT_ANTENNA):
                self._send(
                    f.reader_event(self._reader_msg_id(), utc_micros(), f.antenna_event(event.number, connected))
                )
        else:
            state = event.kind == "gpi-on"
            reader.gpi_state[event.number] = state
            log.info("event=gpi port=%d state=%d", event.number, int(state))
            if self.config.events.get(EVENT_GPI):
                self._send(f.reader_event(self._reader_msg_id(), utc_micros(), f.gpi_event(event.number, state)))

    # ---- time: reads, reports, keepalives ----------------------------------------------------

    def _wait_s(self) -> float:
        inv = self.inventory
        if inv is None or inv.replay is None or self.silent:
            return TICK_S
        return min(TICK_S, inv.replay.wait_s(time.monotonic()))

    def _tick(self, now: float) -> None:
        for event in self.reader.schedule.due(now):
            self._play(event)
        if self.reader.link.reboot_due(now):  # quirk reboot-after: the acceptor refuses while it is down
            log.info("event=reboot peer=%s quirk=reboot-after", self.peer)
            raise _Drop()
        if self.silent:
            return
        inv = self.inventory
        if inv is not None and inv.replay is not None:
            self.reads_sent += inv.replay.pump(self._send, now)
            if inv.stop_at is not None and now >= inv.stop_at:
                self.end_inventory(STATE_INACTIVE)
        elif inv is not None:
            inv.collect(now)
            if inv.report_n:
                while len(inv.buffer) >= inv.report_n:
                    self._send_report(inv, inv.report_n)
            if inv.report_every_s and now - inv.last_report >= inv.report_every_s:
                if inv.buffer:
                    self._flush(inv)
                inv.last_report = now
            if inv.stop_at is not None and now >= inv.stop_at:
                log.info("event=rospec_done peer=%s rospec_id=%d", self.peer, inv.rospec.rospec_id)
                self.end_inventory(STATE_INACTIVE)
        if self.next_keepalive is not None and now >= self.next_keepalive and not self.reader.link.no_keepalives:
            self._send(f.keepalive(self._reader_msg_id()))
            self.next_keepalive = now + self.config.keepalive_ms / 1000.0

    def _send_report(self, inv: Inventory, count: int) -> None:
        chunk = inv.take(count)
        self._send(f.ro_access_report(self._reader_msg_id(), chunk))
        self.reads_sent += len(chunk)
        inv.last_report = time.monotonic()

    def _flush(self, inv: Inventory) -> None:
        while inv.buffer:
            self._send_report(inv, MAX_TAGS_PER_REPORT)

    # ---- inventory, for the spec requests (SpecHost) --------------------------------------------

    @property
    def running_rospec_id(self) -> int | None:
        return self.inventory.rospec.rospec_id if self.inventory is not None else None

    def begin_inventory(self, rospec: ROSpec) -> None:
        if self.inventory is not None:
            if self.inventory.rospec.rospec_id == rospec.rospec_id:
                return
            self.end_inventory(STATE_INACTIVE)
        inv = Inventory(rospec, self.config, self.reader, self.peer, time.monotonic())
        self.inventory = inv
        self.specs.rospecs[rospec.rospec_id] = rospec.with_state(STATE_ACTIVE)
        log.info(
            "event=rospec_started peer=%s rospec_id=%d report_n=%d report_every_s=%.3f antennas=%s",
            self.peer,
            rospec.rospec_id,
            inv.report_n,
            inv.report_every_s,
            sorted(self.reader.antennas_of(rospec)),
        )

    def end_inventory(self, new_state: int) -> None:
        inv = self.inventory
        if inv is None:
            return
        if inv.replay is None:
            inv.collect(time.monotonic())
            self._flush(inv)
        self.inventory = None
        self.specs.set_state(inv.rospec.rospec_id, new_state)
        log.info(
            "event=rospec_stopped peer=%s rospec_id=%d scenario_time_s=%.2f",
            self.peer,
            inv.rospec.rospec_id,
            inv.scenario_time,
        )

    def ok(self, response_type: int, frame: f.Frame, *extra: bytes) -> None:
        self._send(f.response(response_type, frame.msg_id, f.M_SUCCESS, "", *extra))

    def fail(self, response_type: int, frame: f.Frame, code: int, description: str) -> None:
        log.info(
            "event=request_failed peer=%s type=%d id=%d error=%r",
            self.peer,
            frame.msg_type,
            frame.msg_id,
            description,
        )
        self._send(f.response(response_type, frame.msg_id, code, description))

    # ---- reader configuration and the other requests -------------------------------------------

    def _ignore(self, frame: f.Frame) -> None:
        return None

    def _get_capabilities(self, frame: f.Frame) -> None:
        (requested,) = f.unpack_exact(struct.Struct("!B"), frame.body, "GET_READER_CAPABILITIES")
        if requested > 4:
            raise f.ParameterError(f"RequestedData: expected 0-4, got {requested}", f.M_FIELD_ERROR)
        self._send(capabilities_response(frame.msg_id, self.reader.antennas, requested, self.reader.vendor))

    def _get_config(self, frame: f.Frame) -> None:
        f.unpack_exact(struct.Struct("!BHHH"), frame.body, "GET_READER_CONFIG")
        for _ in f.iter_params(frame.body, 7):
            pass
        self._send(reader_config_response(frame.msg_id, self.reader.antennas, self.config))

    def _set_config(self, frame: f.Frame) -> None:
        (flags,) = f.unpack_exact(struct.Struct("!B"), frame.body, "SET_READER_CONFIG")
        params = list(f.iter_params(frame.body, 1))
        config = ReaderConfig() if flags & 0x80 else self.config
        if flags & 0x80:  # ResetToFactoryDefault
            self.end_inventory(STATE_DISABLED)
            self.specs.clear()
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
                self.reader.gpo_writes.append((port, bool(data & 0x80)))
                log.info("event=gpo port=%d state=%d peer=%s", port, int(bool(data & 0x80)), self.peer)
            elif p.type == f.P_EVENTS_AND_REPORTS:
                (hold,) = f.unpack_exact(struct.Struct("!B"), p.value, "EventsAndReports")
                config.hold_events_on_reconnect = bool(hold & 0x80)
        self.config = config
        self.next_keepalive = time.monotonic() + config.keepalive_ms / 1000.0 if config.keepalive_ms else None
        self.ok(f.SET_READER_CONFIG_RESPONSE, frame)

    def _get_report(self, frame: f.Frame) -> None:
        inv = self.inventory
        if inv is not None:
            inv.collect(time.monotonic())
            self._flush(inv)

    def _enable_events_and_reports(self, frame: f.Frame) -> None:
        # The message needs no answer; some readers and emulators answer it with ERROR_MESSAGE anyway.
        if "error-on-events-and-reports" in self.reader.quirks:
            self._send(f.error_message(frame.msg_id, f.M_UNSUPPORTED_MESSAGE, "unsupported"))

    def _close_connection(self, frame: f.Frame) -> None:
        self.reader.close_connections += 1
        log.info("event=close_connection peer=%s", self.peer)
        self.end_inventory(STATE_INACTIVE)
        self.ok(f.CLOSE_CONNECTION_RESPONSE, frame)
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
