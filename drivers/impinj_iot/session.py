"""One connection to the reader, on the reader's thread: check, start the profile, read the stream.

GET /api/v1/status -> POST .../presets/{id}/start or .../inventory/start (unless our profile still runs:
the stream broke, the reader did not) -> GET /api/v1/data/stream, read until stop() or the stream ends or
goes silent for 3 keep-alive intervals (the API guide asks clients to wait 3 cycles). It ends with
``Stopped``, ``ConnectionFailed`` (retried with backoff) or ``Refused`` (needs a person: retried slowly).
"""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any, Protocol

from drivers.impinj_iot import profile
from drivers.impinj_iot.events import LineDecoder
from drivers.impinj_iot.http import Answer, Endpoint, Stream, StreamError
from drivers.impinj_iot.settings import ImpinjIotReaderSettings
from gateway.domain.log import get_logger
from gateway.domain.model import TagRead

log = get_logger(__name__)

STATUS, STREAM, STOP = "/api/v1/status", "/api/v1/data/stream", "/api/v1/profiles/stop"
MALFORMED_LOGGED = 5  # malformed lines logged one by one per session; then every 1000th


class ConnectionFailed(Exception):
    """This attempt or session is over; ``str()`` says why."""


class Refused(ConnectionFailed):
    """The reader said no in a way that needs a person (credentials, preset, another profile)."""

    def __init__(self, detail: str, todo: str, code: int | str) -> None:
        super().__init__(detail)
        self.todo = todo
        self.code = code


class Stopped(Exception):
    """stop() was called."""


class Owner(Protocol):
    profile_running: bool  # we started a profile that the reader has not been seen to stop

    def hand_reads(self, reads: list[TagRead]) -> None: ...

    def on_reader_event(self, kind: str, event: dict[str, Any]) -> None: ...

    def on_malformed(self, why: str) -> None: ...

    def tick(self) -> None: ...

    def publish(self, state: str, detail: str) -> None: ...


def refusal(answer: Answer, what: str, settings: ImpinjIotReaderSettings) -> ConnectionFailed:
    """The exception for a non-2xx answer to ``what``: a Refused with what to do, or a plain failure."""
    said = answer.message() or answer.reason
    head = f"{what} answered {answer.status} {said}".rstrip()
    if answer.status == 401:
        return Refused(
            head, f"check username ({settings.username}) and the password in password_file/password_env", 401
        )
    if answer.status == 403:
        return Refused(
            head,
            "this user may not run profiles, or the reader's IoT interface is off (LLRP mode?): check the "
            "user's role and the reader's RFID interface setting",
            403,
        )
    if answer.status == 404 and settings.preset is not None:
        return Refused(head, f"no preset {settings.preset!r} on the reader: create it or fix `preset`", 404)
    if answer.status == 409:
        return Refused(head, "another profile runs on the reader: stop it, or set take_over: true", 409)
    if answer.status == 503:
        return ConnectionFailed(f"{head} (booting?)")
    return ConnectionFailed(head)


class Session:
    def __init__(
        self, settings: ImpinjIotReaderSettings, endpoint: Endpoint, stop: threading.Event, owner: Owner
    ) -> None:
        self.s = settings
        self.endpoint = endpoint
        self.stop = stop
        self.owner = owner
        self.decoder = LineDecoder(settings.name)
        self.malformed = 0
        self.keepalives = 0
        self.inventory_stopped: str | None = None  # an inventoryStatus saying the inventory ended

    def call(self, method: str, path: str, body: Any = None) -> Answer:
        try:
            return self.endpoint.request(method, path, body)
        except (OSError, http.client.HTTPException) as exc:
            raise ConnectionFailed(f"{method} {path} at {self.endpoint.where}: {exc}") from exc

    def begin(self) -> None:
        """Status, then our profile started (or found still running)."""
        answer = self.call("GET", STATUS)
        if answer.status != 200:
            raise refusal(answer, f"GET {STATUS}", self.s)
        try:
            state = str((answer.json() or {}).get("status", ""))
        except (ValueError, AttributeError):
            state = ""
        if state == "running":
            if self.owner.profile_running:
                log.info("profile_still_running", reader=self.s.name)
                return
            if not self.s.take_over:
                raise Refused(
                    f"another profile is running on the reader (status {state})",
                    "stop it (reader web page, or POST /api/v1/profiles/stop), or set take_over: true",
                    409,
                )
            log.warning("take_over", reader=self.s.name, detail="stopping the profile running on the reader")
            self.call("POST", STOP)
        self.owner.profile_running = False
        path, body = profile.start_request(self.s)
        answer = self.call("POST", path, body)
        if not 200 <= answer.status < 300:
            raise refusal(answer, f"POST {path}", self.s)
        self.owner.profile_running = True
        log.info("profile_started", reader=self.s.name, profile=profile.describe(self.s))

    def run(self) -> None:
        """Read the stream until stop() (returns) or it fails (raises)."""
        try:
            stream = self.endpoint.open_stream(STREAM)
        except (OSError, EOFError, StreamError) as exc:
            raise ConnectionFailed(f"GET {STREAM} at {self.endpoint.where}: {exc}") from exc
        try:
            if stream.answer is not None:
                raise refusal(stream.answer, f"GET {STREAM}", self.s)
            self.owner.publish("connected", f"reading ({profile.describe(self.s)})")
            self._read(stream)
        finally:
            stream.close()

    def _read(self, stream: Stream) -> None:
        limit = 3 * self.s.keepalive
        last_heard = time.monotonic()
        decoder, owner = self.decoder, self.owner
        while not self.stop.is_set():
            try:
                data = stream.read()
            except EOFError as exc:
                raise ConnectionFailed(str(exc)) from exc
            except (OSError, StreamError) as exc:
                raise ConnectionFailed(f"stream broken: {exc}") from exc
            now = time.monotonic()
            owner.tick()
            if not data:
                if now - last_heard > limit:
                    raise ConnectionFailed(
                        f"no event and no keep-alive for {now - last_heard:.1f}s (3x keepalive "
                        f"{self.s.keepalive:g}s): stalled stream"
                    )
                continue
            last_heard = now
            out = decoder.feed(data, time.time())
            if out.reads:
                owner.hand_reads(out.reads)
            self.keepalives += out.keepalives
            for why in out.malformed:
                self.malformed += 1
                owner.on_malformed(why)
                if self.malformed <= MALFORMED_LOGGED or self.malformed % 1000 == 0:
                    log.warning("malformed_line", reader=self.s.name, count=self.malformed, detail=why)
            for kind, event in out.events:
                try:
                    owner.on_reader_event(kind, event)
                except (ValueError, TypeError) as exc:  # e.g. an antennaPort that is not a number
                    self.malformed += 1
                    owner.on_malformed(f"{kind}Event: {exc}")
                    log.warning("malformed_line", reader=self.s.name, count=self.malformed, detail=f"{kind}: {exc}")
                    continue
                if kind == "inventoryStatus" and str(event.get("status", "")).lower() in ("idle", "stopped"):
                    owner.profile_running = False
                    raise ConnectionFailed(f"the reader's inventory stopped (inventoryStatus {event.get('status')})")

    def stop_profile(self) -> None:
        """POST /api/v1/profiles/stop, a short wait, errors only logged."""
        try:
            answer = self.endpoint.request("POST", STOP, timeout=3.0)
        except (OSError, http.client.HTTPException) as exc:
            log.info("profile_stop_failed", reader=self.s.name, detail=str(exc))
            return
        if 200 <= answer.status < 300:
            self.owner.profile_running = False
            log.info("profile_stopped", reader=self.s.name)
        else:
            log.info("profile_stop_failed", reader=self.s.name, detail=f"{answer.status} {answer.message()}")
