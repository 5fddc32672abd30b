"""The one small interface every reader driver implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from gateway.model import TagRead

ReadSink = Callable[[list[TagRead]], None]
"""Where a driver hands its reads: thread-safe, never blocks for long, may be called from any thread."""

StatusSink = Callable[[str, str, str], None]
"""``(reader, state, detail)``: state is ``connecting``, ``connected`` or ``disconnected``."""


class ReaderDriver(ABC):
    """A reader driver: ``start()`` and ``stop()`` are idempotent and return promptly.

    Threading contract: a driver may run its own threads (hardware libraries often do). It hands
    batches of reads to ``on_reads`` and state changes to ``on_status`` from those threads; both
    are thread-safe. A driver never raises out of its threads: it logs with its reader's name,
    reports ``disconnected`` and tries again.
    """

    def __init__(self, settings: Any, on_reads: ReadSink, on_status: StatusSink) -> None:
        self.settings = settings
        self.name: str = settings.name
        self._on_reads = on_reads
        self._on_status = on_status

    @abstractmethod
    def start(self) -> None:
        """Begin connecting and reading in the background."""

    @abstractmethod
    def stop(self) -> None:
        """Stop reading, release the device, join the driver's threads."""
