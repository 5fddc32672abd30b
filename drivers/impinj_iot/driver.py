"""``ImpinjIotDriver``: one reader through the Impinj IoT Device Interface, supervised.

Its thread runs sessions (``session.Session``) forever: a failure is retried with exponential backoff and
jitter (a session healthy for ``HEALTHY_S`` starts the backoff over), a refusal that needs a person (401,
403, 404 preset, another profile running) is one warning saying what to do and a retry every
``refused_retry`` (with jitter), never a hammering. stop() stops the profile it started.
"""

from __future__ import annotations

import os
import random
import ssl
import threading
import time
from typing import Any

from drivers.base import ReadSink, StatusSink, SupervisedDriver
from drivers.impinj_iot.http import Endpoint
from drivers.impinj_iot.session import ConnectionFailed, Refused, Session, Stopped
from drivers.impinj_iot.settings import ImpinjIotReaderSettings
from gateway.domain.log import get_logger
from gateway.domain.model import TagRead
from gateway.ops.logs import register_secret

log = get_logger(__name__)

HEALTHY_S = 10.0
STATUS_EVERY_S = 2.0  # counters in the status (overflows, malformed lines) are published this often at most


def read_password(s: ImpinjIotReaderSettings) -> str | None:
    """From ``password_file`` (relative: under $CREDENTIALS_DIRECTORY when set) or ``password_env``."""
    if s.password_file is not None:
        path = str(s.password_file)
        if not s.password_file.is_absolute() and os.environ.get("CREDENTIALS_DIRECTORY"):
            path = os.path.join(os.environ["CREDENTIALS_DIRECTORY"], path)
        try:
            with open(path, encoding="utf-8") as handle:
                password = handle.read().rstrip("\r\n")
        except OSError as exc:
            raise Refused(
                f"password_file: cannot read {path}: {exc.strerror}", "fix password_file", "password"
            ) from None
    elif s.password_env is not None:
        password = os.environ.get(s.password_env)  # type: ignore[assignment]
        if password is None:
            raise Refused(
                f"password_env: {s.password_env} is not set", "set it in the service's environment", "password"
            )
    else:
        return None
    register_secret(password)
    return password


class ImpinjIotDriver(SupervisedDriver):
    """One reader. ``start``/``stop`` are idempotent; everything else runs on the reader's thread."""

    settings: ImpinjIotReaderSettings
    thread_prefix = "impinj-iot"
    stop_timeout_s = 15.0

    def __init__(self, settings: ImpinjIotReaderSettings, on_reads: ReadSink, on_status: StatusSink) -> None:
        super().__init__(settings, on_reads, on_status)
        self.profile_running = False
        self.reads = 0
        self.attempts = 0
        self.sessions = 0
        self.overflows = 0
        self.events_purged = 0
        self.malformed = 0
        self.antennas: dict[int, str] = {}
        self._state = ("disconnected", "")
        self._published_at = 0.0
        self._dirty = False
        self._refused: Refused | None = None
        self._lock = threading.Lock()

    # ---- what sessions hand over ---------------------------------------------------------------

    def hand_reads(self, reads: list[TagRead]) -> None:
        self.reads += len(reads)
        self._on_reads(reads)

    def tick(self) -> None:
        """Often, from the session: counters that changed (malformed lines) reach the status, at a slow pace."""
        if self._dirty and time.monotonic() - self._published_at >= STATUS_EVERY_S:
            self.publish(*self._state)

    def publish(self, state: str, detail: str) -> None:
        self._state = (state, detail)
        self._published_at, self._dirty = time.monotonic(), False
        extra: dict[str, Any] = {}
        if state == "connected" and self.antennas:
            extra["antennas"] = {str(a): v for a, v in sorted(self.antennas.items())}
        extra["overflows"] = self.overflows  # always: dockgate_reader_events_purged starts at 0
        extra["events_purged"] = self.events_purged
        if self.malformed:
            extra["malformed_lines"] = self.malformed
        self._on_status(self.name, state, detail, extra)

    def on_malformed(self, why: str) -> None:
        self.malformed += 1
        self._dirty = True

    def on_reader_event(self, kind: str, event: dict[str, Any]) -> None:
        if kind in ("antennaConnected", "antennaDisconnected"):
            antenna = int(event.get("antennaPort") or 0)
            state = "connected" if kind == "antennaConnected" else "disconnected"
            self.antennas[antenna] = state
            log.warning("antenna", reader=self.name, antenna=antenna, state=state)
            self.publish(*self._state)
        elif kind == "overflow":
            purged = int(event.get("eventsPurged") or 0)
            self.overflows += 1
            self.events_purged += purged
            log.warning(
                "overflow",
                reader=self.name,
                purged=purged,
                remaining=event.get("eventsRemaining"),
                first=event.get("firstEventTimestamp"),
                last=event.get("lastEventTimestamp"),
                detail="the reader's event buffer overflowed: tag reads were lost on the reader (the stream was "
                "read too slowly, or the network stalled); check the gateway's CPU and the link",
            )
            self.publish(self._state[0], f"overflow: the reader purged {purged} events (reads lost)")
        elif kind == "inventoryStatus":
            log.info("inventory_status", reader=self.name, status=event.get("status"))
        else:
            log.debug("reader_event", reader=self.name, type=kind)

    # ---- supervisor ----------------------------------------------------------------------------

    def _supervise(self) -> None:
        s = self.settings
        failures = 0
        session: Session | None = None
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                session = self._session()
                break  # returned: stopped
            except Stopped:
                break
            except Refused as exc:
                delay = s.refused_retry * (1 + 0.2 * random.random())
                self._on_refused(exc, delay)
                reason = str(exc)
            except ConnectionFailed as exc:
                failures = 0 if time.monotonic() - started >= HEALTHY_S else failures + 1
                delay = min(s.reconnect_delay_max, s.reconnect_delay_min * 2 ** max(0, failures - 1))
                delay += random.uniform(0, s.reconnect_delay_min)
                reason = str(exc)
                self.publish("disconnected", reason)
            except Exception:  # a bug must not end the reader: log, back off, go on
                log.exception("session_crashed", reader=self.name)
                delay, reason = s.reconnect_delay_max, "internal error (logged)"
                self.publish("disconnected", reason)
            log.warning("reconnect", reader=self.name, attempt=self.attempts, delay_s=round(delay, 1), reason=reason)
            if self._stop.wait(delay):
                break
        if self.profile_running:
            try:
                (session or Session(s, Endpoint(s, read_password(s)), self._stop, self)).stop_profile()
            except ConnectionFailed as exc:
                log.info("profile_stop_failed", reader=self.name, detail=str(exc))
        self.antennas.clear()
        self.publish("disconnected", "stopped")

    def _on_refused(self, exc: Refused, delay: float) -> None:
        self.publish("disconnected", f"{exc}: {exc.todo} (attempt {self.attempts}, next in {delay:.0f}s)")
        if self._refused is None or self._refused.code != exc.code:  # one warning per kind of refusal
            log.warning(
                "reader_refused",
                reader=self.name,
                code=exc.code,
                detail=str(exc),
                todo=exc.todo,
                retry_s=round(delay),
            )
        self._refused = exc

    def _session(self) -> Session:
        s = self.settings
        self.attempts += 1
        self.publish("connecting", f"attempt {self.attempts}")
        try:
            endpoint = Endpoint(s, read_password(s))
        except (OSError, ssl.SSLError) as exc:  # the CA file: missing, unreadable, not PEM
            raise Refused(f"ca_file: cannot load {s.ca_file}: {exc}", "fix ca_file", "ca_file") from exc
        session = Session(s, endpoint, self._stop, self)
        session.begin()
        if self._refused is not None:
            log.info("reader_accepted", reader=self.name, after=self._refused.code)
            self._refused = None
        self.sessions += 1
        self.antennas = dict.fromkeys(s.antennas, "connected")
        session.run()
        if self._stop.is_set():
            return session
        raise ConnectionFailed("stream ended")
