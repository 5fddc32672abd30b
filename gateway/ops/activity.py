"""What the board shows of recent activity, kept by the main loop: the last events stored, and each
read point's read rate. Both are cheap: per event stored, and once a second over the read points."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

RECENT_EVENTS = 100  # the last events kept for the board (all locations)
_RATE_WINDOW_S = 1.0


class RecentEvents:
    def __init__(self, size: int = RECENT_EVENTS) -> None:
        self._events: deque[Mapping[str, Any]] = deque(maxlen=size)
        self.shown: tuple[Mapping[str, Any], ...] = ()  # oldest first; a new tuple only when events came

    def stored(self, payloads: Sequence[Mapping[str, Any]]) -> None:
        """The payloads just committed, as published (the outbox built them: no second rendering)."""
        if payloads:
            self._events.extend(payloads[-(self._events.maxlen or 1) :])
            self.shown = tuple(self._events)


class ReadRates:
    """Reads per second per (reader, antenna), over the last second or so."""

    def __init__(self) -> None:
        self._at = 0.0
        self._counts: dict[tuple[str, int], int] = {}
        self.rates: dict[tuple[str, int], float] = {}

    def turn(self, now: float, counts: Mapping[tuple[str, int], int]) -> None:
        elapsed = now - self._at
        if elapsed < _RATE_WINDOW_S:
            return
        if self._at:
            before = self._counts
            self.rates = {key: max(0, n - before.get(key, 0)) / elapsed for key, n in counts.items()}
        self._at = now
        self._counts = dict(counts)
