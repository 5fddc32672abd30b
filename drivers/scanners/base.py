"""What the serial and USB HID scanner drivers share: a supervisor thread that opens the device,
reads until it vanishes, and opens it again with capped, jittered exponential backoff (tenacity).

Threading contract (see ``drivers.base.ReaderDriver``): one thread per scanner, named
``scanner-<name>``; scans go to ``on_reads`` as a batch of ``ScanRead`` of their own, status changes to
``on_status``. States: ``connecting`` at start, ``connected`` when the device is open, ``disconnected``
(with the reason) when it vanishes or cannot be opened; while it stays away the driver keeps trying and
the state stays ``disconnected`` until it is back.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_random_exponential

from drivers.base import ReadSink, StatusSink, SupervisedDriver
from drivers.scanners.framing import ScanFramer
from drivers.scanners.settings import ScannerSettings
from gateway.domain.log import get_logger
from gateway.domain.model import ScanRead

log = get_logger(__name__)


class DeviceGone(Exception):
    """The scanner cannot be opened or has vanished (unplugged, port closed)."""


class _Stopped(Exception):
    pass


class ScannerDriver(SupervisedDriver):
    """Subclasses open the device, read bytes from it (``_read`` returns b"" on a quiet timeout and
    raises ``DeviceGone`` when the device vanishes) and close it."""

    settings: ScannerSettings
    thread_prefix = "scanner"

    def __init__(self, settings: ScannerSettings, on_reads: ReadSink, on_status: StatusSink) -> None:
        super().__init__(settings, on_reads, on_status)
        self.framer = self._framer()
        self.scans = 0
        self.reconnects = 0
        self._device: Any = None  # the open device, for tests that talk to it (loop://)
        self._state = ""

    def _report(self, state: str, detail: str) -> None:
        """Hand a state change to the core; a repeat of the same state (another failed reopen) is not news."""
        if state != self._state:
            self._state = state
            self._on_status(self.name, state, detail)

    def _framer(self) -> ScanFramer:
        return ScanFramer(b"\r", max_length=self.settings.max_length)

    @abstractmethod
    def _open(self) -> Any:
        """Open the device; raise DeviceGone when it is not there."""

    @abstractmethod
    def _read(self, device: Any) -> bytes:
        """Bytes from the device, b"" after a short quiet timeout (about 0.2 s); DeviceGone when it vanished."""

    @abstractmethod
    def _close(self, device: Any) -> None:
        """Release the device; never raises."""

    def _supervise(self) -> None:
        self._report("connecting", "opening")
        try:
            while not self._stop.is_set():
                device = self._open_with_backoff()
                self._device = device
                self._report("connected", "open")
                detail = "stopped"
                try:
                    self._read_until_gone(device)
                except DeviceGone as exc:
                    detail = str(exc)
                except Exception as exc:  # a driver bug must not end the thread: log it and reopen
                    log.exception("read_error", reader=self.name)
                    detail = f"read error: {exc}"
                finally:
                    self._device = None
                    self._close(device)
                if not self._stop.is_set():
                    self.reconnects += 1
                    log.warning("disconnected", reader=self.name, reason=detail)
                    self._report("disconnected", detail)
        except _Stopped:
            pass
        self._state = ""
        self._report("disconnected", "stopped")

    def _open_with_backoff(self) -> Any:
        def stop_requested(_state: RetryCallState) -> bool:
            return self._stop.is_set()

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            delay = state.next_action.sleep if state.next_action is not None else 0.0
            self._report("disconnected", str(exc))
            log.info("reopen", reader=self.name, attempt=state.attempt_number, delay_s=round(delay, 2), reason=str(exc))

        retrying = Retrying(
            retry=retry_if_exception_type(DeviceGone),
            wait=wait_random_exponential(multiplier=0.2, max=self.settings.reconnect_delay_max),
            stop=stop_requested,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if self._stop.is_set():
                        raise _Stopped
                    return self._open()
        except DeviceGone:
            raise _Stopped from None  # only when stop was requested while retrying
        raise _Stopped

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)  # a stop request ends the backoff wait at once

    def _read_until_gone(self, device: Any) -> None:
        framer = self.framer
        while not self._stop.is_set():
            data = self._read(device)
            if not data:
                continue
            texts = framer.feed(data)
            if texts:
                now = time.time()
                self.scans += len(texts)
                self._on_reads(
                    [ScanRead(reader=self.name, antenna=0, epc="", rssi=None, time=now, text=t) for t in texts]
                )
