"""A reader's general purpose inputs and outputs, on the reader's thread.

``GpiGate``: with ``gpi`` set the ROSpec waits; the driver starts it when the input (a photo eye) goes
active and stops it ``linger`` seconds after the input goes inactive. A window without a single tag read
is a ``no_read`` door exception. ``GpoPulses``: events at the reader's door switch an output on for a
pulse (light stack, buzzer); the core asks from its own thread, through a queue.
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Iterable
from typing import Any, Final, Protocol

from drivers.base import ExceptionSink
from drivers.llrp import wire
from drivers.llrp.rospec import RospecRun
from drivers.llrp.settings import LLRPGpiSettings
from drivers.llrp.setup import ROSPEC_ID
from gateway.domain.log import get_logger
from gateway.domain.model import ReaderException

log = get_logger(__name__)

STOP_ROSPEC_RESPONSE = 33


class Link(Protocol):
    """What the gate and the outputs need of the session."""

    def send(self, name: str, fields: dict[str, Any] | None = None) -> int: ...

    def next_frame(self, deadline: float) -> bytes | None: ...

    def dispatch(self, frame: bytes) -> None: ...

    def publish(self, detail: str, **extra: Any) -> None: ...


class GpiGate:
    """Inventory while the input is active, and for ``linger`` after."""

    def __init__(
        self,
        reader: str,
        gpi: LLRPGpiSettings,
        link: Link,
        rospec: RospecRun,
        response_timeout: float,
        on_exception: ExceptionSink | None,
    ) -> None:
        self.reader = reader
        self.rospec = rospec
        self.gpi = gpi
        self.response_timeout = response_timeout
        self.link = link
        self.on_exception = on_exception
        self.active = False
        self.reading = False
        self.linger_until: float | None = None
        self.draining = False  # stopped, reports of the window still coming
        self.window_start = 0.0
        self.window_reads = 0

    def count(self, reads: int) -> None:
        """Tag reads just received: they belong to the window while one is open."""
        if self.active or self.linger_until is not None or self.draining:
            self.window_reads += reads

    def on_input(self, active: bool) -> None:
        self.active = active
        port = self.gpi.port
        log.info("gpi", reader=self.reader, port=port, active=active)
        if active:
            self.linger_until = None
            if not self.reading:
                self.window_start = time.time()
                self.window_reads = 0
                self.reading = True
                self.rospec.start("inventorying (GPI active)", gpi={str(port): "active"})
        elif self.reading:
            self.linger_until = time.monotonic() + self.gpi.linger

    def tick(self, now: float) -> None:
        """End the window once the linger is over."""
        if self.linger_until is None or now < self.linger_until:
            return
        self.linger_until = None
        self.link.send("STOP_ROSPEC", {"ROSpecID": ROSPEC_ID})
        self.rospec.stopped()
        self.reading = False
        self.link.publish("waiting for GPI", gpi={str(self.gpi.port): "inactive"})
        # Reports for the window may still be in flight: the reader flushes them on STOP_ROSPEC,
        # before its STOP_ROSPEC_RESPONSE. Wait for that answer so they are counted.
        self.draining = True
        try:
            deadline = time.monotonic() + self.response_timeout
            while (frame := self.link.next_frame(deadline)) is not None:
                self.link.dispatch(frame)
                if wire.message_type(frame) == STOP_ROSPEC_RESPONSE:
                    break
        finally:
            self.draining = False
        log.info("gpi_window_end", reader=self.reader, reads=self.window_reads)
        if self.window_reads == 0 and self.on_exception is not None:
            # "" = the location of this reader's read points, resolved by the core
            details = {"gpi_port": self.gpi.port, "window_start": self.window_start}
            self.on_exception(ReaderException(self.reader, self.gpi.location or "", "no_read", time.time(), details))


STEADY: Final = math.inf  # a command's seconds: on until switched off
OFF: Final = -1.0  # a command's seconds: off now


class GpoPulses:
    """Outputs switched on for a pulse, or steady (``STEADY``), or off (``OFF``); ``commands`` holds
    (port, seconds) put by the core's thread. ``steady``: ports on at the start of this session."""

    def __init__(
        self, reader: str, link: Link, commands: queue.SimpleQueue[tuple[int, float]], steady: Iterable[int] = ()
    ) -> None:
        self.reader = reader
        self.link = link
        self.commands = commands
        self.off_at: dict[int, float] = {}
        self.written: dict[int, bool] = {}  # port -> what this session last wrote
        for port in sorted(steady):
            commands.put((port, STEADY))

    def tick(self, now: float) -> None:
        while True:
            try:
                port, pulse = self.commands.get_nowait()
            except queue.Empty:
                break
            if pulse < 0:
                self.off_at.pop(port, None)
                self._write(port, False)
                continue
            self._write(port, True)
            self.off_at[port] = now + pulse
        for port, off_at in list(self.off_at.items()):
            if now >= off_at:
                del self.off_at[port]
                self._write(port, False)

    def all_off(self) -> None:
        for port in list(self.off_at):
            self._write(port, False)
        self.off_at.clear()

    def _write(self, port: int, state: bool) -> None:
        if self.written.get(port) is state:
            return  # already so in this session (a steady light switched on twice)
        self.written[port] = state
        log.info("gpo", reader=self.reader, port=port, state=int(state))
        self.link.send(
            "SET_READER_CONFIG",
            {"ResetToFactoryDefaults": False, "GPOWriteData": [{"GPOPortNumber": port, "GPOData": state}]},
        )
