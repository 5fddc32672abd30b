"""The LLRP reader simulator: a TCP server that accepts one LLRP client at a time and inventories a
scenario for it.

Threading: one acceptor thread; one thread per accepted client (``session.py``). A second concurrent
client is refused by the acceptor with a ConnectionAttemptEvent, as a real reader does, so a slow client
can block only its own thread. What outlives a connection is the ``Reader`` (``reader.py``).
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections.abc import Sequence

from simulators.llrp import frames as f
from simulators.llrp.faults import Fault, GpiPulse
from simulators.llrp.field_events import FieldSchedule
from simulators.llrp.link_quirks import REBOOT_DOWN_S
from simulators.llrp.reader import Reader, utc_micros
from simulators.llrp.recording import Recording
from simulators.llrp.scenario import Scenario
from simulators.llrp.session import ClientSession

log = logging.getLogger("simulators.llrp")

SEND_TIMEOUT_S = 10.0


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
        self.host = host
        # The scenario's own faults and pulses first, then those given here: both happen.
        schedule = FieldSchedule((*scenario.faults, *faults), (*scenario.gpi, *gpi))
        self.reader = Reader.configure(scenario, antennas, loop, speed, vendor, quirks, replay, replay_rate, schedule)
        self._requested_port = port
        self._port = 0
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._acceptor: threading.Thread | None = None
        self._sessions: list[ClientSession] = []
        self._current: ClientSession | None = None
        unused = sorted(a for a in scenario.antennas_used() if a > antennas)
        if unused:
            log.warning("event=scenario_antennas_ignored antennas=%s reader_antennas=%d", unused, antennas)

    @property
    def port(self) -> int:
        return self._port

    # What clients did and what the field schedule changed, for tests to assert on.
    @property
    def gpo_writes(self) -> list[tuple[int, bool]]:
        return self.reader.gpo_writes

    @property
    def close_connections(self) -> int:
        return self.reader.close_connections

    @property
    def disconnected_antennas(self) -> set[int]:
        return self.reader.disconnected_antennas

    @property
    def gpi_state(self) -> dict[int, bool]:
        return self.reader.gpi_state

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
            self.reader.stopping.clear()
            self._acceptor = threading.Thread(
                target=self._accept_loop, name=f"llrp-sim-accept-{self._port}", daemon=True
            )
            self._acceptor.start()
        log.info(
            "event=listening host=%s port=%d scenario=%s antennas=%d speed=%s loop=%s vendor=%s scheduled=%d",
            self.host,
            self._port,
            self.reader.scenario.name,
            self.reader.antennas,
            self.reader.speed,
            self.reader.loop,
            self.reader.vendor,
            len(self.reader.schedule),
        )

    def stop(self) -> None:
        with self._lock:
            acceptor = self._acceptor
            if acceptor is None:
                return
            self.reader.stopping.set()
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
            while not self.reader.stopping.is_set():
                if not self._follow_reboot(sel):
                    self.reader.stopping.wait(0.05)
                    continue
                if not sel.select(0.1):
                    continue
                assert self._listener is not None
                try:
                    conn, peer = self._listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    log.warning("event=accept_failed error=%s", exc)
                    continue
                self._admit(conn, f"{peer[0]}:{peer[1]}")

    def _follow_reboot(self, sel: selectors.BaseSelector) -> bool:
        """Quirk reboot-after: no listener while the reader is down (connections are refused), the same
        port again once it is up. True when listening."""
        down = self.reader.link.down(time.monotonic())
        with self._lock:
            if down and self._listener is not None:
                sel.unregister(self._listener)
                self._listener.close()
                self._listener = None
                log.info("event=rebooting port=%d refusing_s=%.1f", self._port, REBOOT_DOWN_S)
            elif not down and self._listener is None:
                listener = socket.create_server((self.host, self._port), reuse_port=False)
                listener.setblocking(False)
                self._listener = listener
                sel.register(listener, selectors.EVENT_READ)
                log.info("event=rebooted port=%d rospecs=0 config=default", self._port)
            return self._listener is not None

    def _admit(self, conn: socket.socket, peer: str) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(SEND_TIMEOUT_S)
        now = time.monotonic()
        if self.reader.link.down(now):  # rebooting: the session just dropped, the listener closes next
            conn.close()
            return
        with self._lock:
            self._sessions = [s for s in self._sessions if s.alive]
            busy = self._current is not None
        if not busy and self.reader.link.held_by_stale_session(now):
            log.info("event=client_refused peer=%s reason=stale_session quirk=stale-session", peer)
            self._refuse(conn)
            return
        with self._lock:
            if not busy:
                session = ClientSession(self.reader, conn, peer, self._session_ended)
                self._current = session
                self._sessions.append(session)
        if busy:
            log.info("event=client_refused peer=%s reason=client_connection_exists", peer)
            self._refuse(conn)
            return
        session.start()

    def _refuse(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(1.0)
            conn.sendall(f.connection_attempt_event(0, f.CONN_FAILED_CLIENT_CONNECTION_EXISTS, utc_micros()))
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        conn.close()

    def _session_ended(self, session: ClientSession) -> None:
        with self._lock:
            if self._current is session:
                self._current = None
