"""The one thread-safe boundary into the main loop: drivers hand over batches of reads, anything may
wake the loop, and the loop takes what has arrived.

Bounded: when the main loop falls behind, a driver waits (and TCP pushes back on the reader) instead of
memory growing without end; a driver that waited ``put_timeout`` in vain drops its batch, counted and
logged. A wake-up (a PUBACK, a stop request) is a flag, not a fake batch of reads.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from gateway.domain.log import get_logger
from gateway.domain.model import TagRead

log = get_logger(__name__)

QUEUE_BATCHES = 64  # read batches waiting for the main loop, at most (a batch is one report or socket read)
BATCHES_PER_TURN = 64  # so that one turn stays short and events go out while reads keep coming
PUT_TIMEOUT_S = 5.0


class ReadIngress:
    """Batches of reads from drivers' threads to the main loop, with backpressure."""

    def __init__(self, capacity: int = QUEUE_BATCHES, put_timeout: float = PUT_TIMEOUT_S) -> None:
        self._batches: deque[list[TagRead]] = deque()
        self._capacity = capacity
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # a batch or a wake-up for the main loop
        self._room = threading.Condition(self._lock)  # room for a driver that waits
        self._woken = False
        self.put_timeout = put_timeout
        self.dropped = 0  # reads dropped after a driver waited put_timeout in vain
        self._dropped_logged = 0.0

    def hand_over(self, reads: list[TagRead]) -> None:
        """From a driver's thread: queue a batch; waits while the main loop is behind."""
        with self._lock:
            if len(self._batches) >= self._capacity:
                deadline = time.monotonic() + self.put_timeout
                while len(self._batches) >= self._capacity:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self._drop(len(reads))
                        return
                    self._room.wait(left)
            self._batches.append(reads)
            self._arrived.notify()

    def wake(self) -> None:
        """From any thread (not a signal handler): make the main loop turn now; never blocks for long."""
        with self._lock:
            self._woken = True
            self._arrived.notify()

    def take(self, wait: float, limit: int = BATCHES_PER_TURN) -> list[list[TagRead]]:
        """The main loop: up to ``limit`` batches, waiting up to ``wait`` s for the first one or a wake-up."""
        with self._lock:
            if not self._batches and not self._woken and wait > 0:
                self._arrived.wait(wait)
            self._woken = False
            batches = self._batches
            if not batches:
                return []
            if len(batches) <= limit:
                taken = list(batches)
                batches.clear()
            else:
                taken = [batches.popleft() for _ in range(limit)]
            self._room.notify_all()
            return taken

    @property
    def behind(self) -> bool:
        """More batches wait than one turn took: the main loop is behind the readers."""
        return bool(self._batches)

    def _drop(self, count: int) -> None:
        self.dropped += count
        now = time.monotonic()
        if now - self._dropped_logged >= 10:
            self._dropped_logged = now
            log.error(
                "reads_dropped",
                reason="backpressure",
                count=count,
                total=self.dropped,
                detail=f"the main loop is {self.put_timeout:.0f}s+ behind",
            )
