"""The one small interface every reader driver implements."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from gateway.domain.log import get_logger
from gateway.domain.model import LocationEvent, ReaderException, TagRead
from gateway.domain.settings import ReaderSettingsBase

log = get_logger(__name__)

ReadSink = Callable[[list[TagRead]], None]
"""Where a driver hands its reads: thread-safe, never blocks for long, may be called from any thread."""


class StatusSink(Protocol):
    """``(reader, state, detail, extra=None)``: state is ``connecting``, ``connected`` or ``disconnected``, or
    ``idle`` (connected, answering, and no tag read for a while: LLRP's ``no_reads_after``).

    ``extra`` (optional, for drivers that know more) is merged into the retained reader status, e.g.
    ``{"antennas": {"1": "connected", "2": "disconnected"}, "gpi": {"1": "active"}}``.
    """

    def __call__(self, reader: str, state: str, detail: str, extra: dict[str, Any] | None = None, /) -> None: ...


ExceptionSink = Callable[[ReaderException], None]


class ReaderDriver(ABC):
    """A reader driver: ``start()`` and ``stop()`` are idempotent and return promptly.

    Threading contract: a driver may run its own threads (hardware libraries often do). It hands
    batches of reads to ``on_reads`` and state changes to ``on_status`` from those threads; both
    are thread-safe. A driver never raises out of its threads: it logs with its reader's name,
    reports ``disconnected`` and tries again.
    """

    def __init__(self, settings: ReaderSettingsBase, on_reads: ReadSink, on_status: StatusSink) -> None:
        self.settings: ReaderSettingsBase = settings
        self.name: str = settings.name
        self._on_reads = on_reads
        self._on_status = on_status

    on_exception: ExceptionSink | None = None
    """Set by the core before ``start()`` when it wants door exceptions (thread-safe, never blocks)."""

    def on_event(self, event: LocationEvent) -> None:
        """A stored event, from the core's thread: drivers with outputs (GPO) react; must not block."""
        return None

    def set_output(self, port: int, on: bool, pulse: float | None = None) -> bool:
        """From the core's thread: switch an output (a light of the door's stack) on, for ``pulse`` seconds
        or until switched off, or off. Must not block. False: this reader has no outputs."""
        return False

    @abstractmethod
    def start(self) -> None:
        """Begin connecting and reading in the background."""

    @abstractmethod
    def stop(self) -> None:
        """Stop reading, release the device, join the driver's threads."""


class SupervisedDriver(ReaderDriver):
    """A driver whose work is one thread of its own (``_supervise``: connect, read, reconnect) that runs
    until ``self._stop`` is set. ``start()`` and ``stop()`` are idempotent; ``stop()`` joins the thread."""

    thread_prefix = "reader"
    stop_timeout_s = 10.0

    def __init__(self, settings: ReaderSettingsBase, on_reads: ReadSink, on_status: StatusSink) -> None:
        super().__init__(settings, on_reads, on_status)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._supervise, name=f"{self.thread_prefix}-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout=self.stop_timeout_s)
        if thread.is_alive():
            log.error("stop_timeout", reader=self.name, detail=f"{self.thread_prefix} thread did not end")

    @abstractmethod
    def _supervise(self) -> None:
        """The driver's thread: runs until ``self._stop`` is set, never raises."""
