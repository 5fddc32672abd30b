"""``LLRPDriver``: one LLRP reader, supervised. Its thread connects, runs a session (``session.Session``)
until the connection ends, reports the reader's state, and connects again forever with tenacity
(exponential backoff with jitter; a session that was healthy for a while starts the backoff over)."""

from __future__ import annotations

import queue
import socket
import time
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_never, wait_exponential, wait_random

from drivers.base import ReadSink, StatusSink, SupervisedDriver
from drivers.llrp import wire
from drivers.llrp.gpio import OFF, STEADY
from drivers.llrp.session import ConnectionFailed, ReaderHeld, Session, Stopped
from drivers.llrp.settings import LLRPGpoPulse, LLRPReaderSettings
from gateway.domain.log import get_logger
from gateway.domain.model import LocationEvent, TagRead

log = get_logger(__name__)

HEALTHY_S = 10.0  # a session connected this long resets the backoff


class _Restart(Exception):
    """The session was healthy before it ended: reconnect now, backoff from the start."""


class LLRPDriver(SupervisedDriver):
    """One LLRP reader. ``start``/``stop`` are idempotent; everything else runs on the reader's thread,
    except ``on_event``, which only queues a GPO pulse for it."""

    settings: LLRPReaderSettings
    thread_prefix = "llrp"
    stop_timeout_s = 15.0

    def __init__(self, settings: LLRPReaderSettings, on_reads: ReadSink, on_status: StatusSink) -> None:
        super().__init__(settings, on_reads, on_status)
        self.gpo_commands: queue.SimpleQueue[tuple[int, float]] = queue.SimpleQueue()  # (port, pulse)
        self.steady_outputs: frozenset[int] = frozenset()  # ports on until switched off (a door's light stack)
        self.reads = 0
        self.attempts = 0
        self.sessions = 0  # sessions that reached inventory
        self.door: str | None = settings.gpi.location if settings.gpi else None
        self._extra: dict[str, Any] = {}
        self._held: tuple[float, int] | None = None  # (since, attempts refused) while another client holds it
        self._gpo_by_type: dict[str, LLRPGpoPulse] = {str(k): v for k, v in settings.gpo.items()}

    # ---- interface -----------------------------------------------------------------------------

    def on_event(self, event: LocationEvent) -> None:
        pulse = self._gpo_by_type.get(event.type)
        if pulse is None:
            return
        if event.location == self.door or event.reader == self.name:
            self.gpo_commands.put((pulse.port, pulse.pulse))

    def set_output(self, port: int, on: bool, pulse: float | None = None) -> bool:
        # rebound, never changed in place: a new session on the reader's thread reads it meanwhile
        if on and pulse is None:
            self.steady_outputs = self.steady_outputs | {port}  # switched on again by every new session
        else:
            self.steady_outputs = self.steady_outputs - {port}
        self.gpo_commands.put((port, (pulse or STEADY) if on else OFF))
        return True

    # ---- what sessions hand over ---------------------------------------------------------------

    def hand_reads(self, reads: list[TagRead]) -> None:
        if reads:
            self.reads += len(reads)
            self._on_reads(reads)

    def set_status(self, state: str, detail: str, **extra: Any) -> None:
        if extra:
            self._extra.update(extra)
        if state == "disconnected":
            self._extra.pop("antennas", None)
        self._on_status(self.name, state, detail, dict(self._extra))

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
            except Stopped:
                break
            except _Restart:
                continue
            except Exception:  # a bug must not end the reader: log, back off, go on
                log.exception("session_crashed", reader=self.name)
                if self._stop.wait(s.reconnect_delay_max):
                    break
        self.set_status("disconnected", "stopped")

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise Stopped()

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "reconnect", reader=self.name, attempt=state.attempt_number, delay_s=round(delay, 1), reason=str(exc)
        )

    # ---- one session ---------------------------------------------------------------------------

    def _session(self) -> None:
        s = self.settings
        self.attempts += 1
        self.set_status("connecting", f"attempt {self.attempts}")
        try:
            sock = socket.create_connection((s.host, s.port), timeout=s.response_timeout)
        except OSError as exc:
            raise self._lost(f"cannot connect to {s.host}:{s.port}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(s.response_timeout)
        session = Session(s, sock, self._stop, self)
        connected_at: float | None = None
        try:
            session.handshake()
            connected_at = time.monotonic()
            if self._held is not None:
                since, refused = self._held
                self._held = None
                log.info("reader_freed", reader=self.name, held_s=round(connected_at - since, 1), refused=refused)
            self.sessions += 1
            session.run()
            session.close_politely()
        except (OSError, wire.FrameError, wire.UndecodableReport) as exc:
            raise self._lost(f"connection lost: {exc}", connected_at) from exc
        except ReaderHeld as exc:
            self._on_held(exc)
            raise self._lost(str(exc), connected_at) from exc
        except ConnectionFailed as exc:
            raise self._lost(str(exc), connected_at) from exc
        finally:
            sock.close()
        if self._stop.is_set():
            raise Stopped()

    def _on_held(self, exc: ReaderHeld) -> None:
        """One warning per episode (the reconnect lines say the rest): what the reader said and what to do."""
        if self._held is not None:
            self._held = (self._held[0], self._held[1] + 1)
            return
        self._held = (time.monotonic(), 1)
        log.warning(
            "reader_held",
            reader=self.name,
            status=exc.status,
            detail="another LLRP client, or a stale session the reader has not timed out yet, holds the reader; "
            "retrying with backoff (stop the other client, or wait for the reader to free it)",
        )

    def _lost(self, detail: str, connected_at: float | None = None) -> Exception:
        self.set_status("disconnected", detail)
        if self._stop.is_set():
            return Stopped()
        if connected_at is not None and time.monotonic() - connected_at >= HEALTHY_S:
            # It worked for a while: reconnect at once, with the backoff started over.
            log.warning("reconnect", reader=self.name, attempt=1, delay_s=0.0, reason=detail)
            self.attempts = 0
            return _Restart()
        return ConnectionFailed(detail)
