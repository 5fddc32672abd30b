"""What each reader is doing, as its driver says, published retained on change.

Drivers report state changes from their own threads (``report``, thread-safe); the main loop applies
them once a turn (``update``) and publishes each changed status retained, and every status again after
the broker connection comes back (the broker may have lost its retained messages); a change of ``detail``
alone is published too (``since`` stays). A driver's extra fields (LLRP: ``antennas``, ``gpi``) are its whole
extra state each time: a field it leaves out is removed from the status. The board also counts reconnects:
a reader that connects again after it had been connected (back from ``idle`` is not a reconnect), and idle
episodes.
"""

from __future__ import annotations

import json
import queue
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from gateway.domain.log import get_logger
from gateway.domain.model import rfc3339

log = get_logger(__name__)

Status = dict[str, Any]
_CORE = frozenset({"state", "since", "detail"})  # every reader's status has these; drivers add the rest
Publish = Callable[[str, bytes], None]  # (reader, payload) -> retained on the reader's status topic


class ReaderBoard:
    def __init__(self, readers: Iterable[str], clock: Callable[[], float]) -> None:
        self._clock = clock
        self._changes: queue.SimpleQueue[tuple[str, str, str, float, dict[str, Any] | None]] = queue.SimpleQueue()
        self.status: dict[str, Status] = {}  # reader -> its retained status payload (main loop only)
        self.reconnects: Counter[str] = Counter()
        self.idle_episodes: Counter[str] = Counter()  # times a reader became idle (connected, no reads)
        self._ever_connected: set[str] = set()
        self._was_connected = False
        self.set_readers(readers)

    def report(self, reader: str, state: str, detail: str, extra: dict[str, Any] | None = None) -> None:
        """From drivers' threads: hand a state change to the main loop."""
        self._changes.put((reader, state, detail, self._clock(), extra))

    def set_readers(self, readers: Iterable[str]) -> None:
        """The configured readers (at start and after a reload): new ones start ``disconnected``, removed
        ones are forgotten (their last words are ignored)."""
        names = list(readers)
        for name in list(self.status):
            if name not in names:
                del self.status[name]
        for name in names:
            self.status.setdefault(name, {"state": "disconnected", "since": rfc3339(self._clock()), "detail": ""})

    def update(self, connected: bool, publish: Publish) -> None:
        """Apply the changes drivers reported; publish what changed (all, after a reconnect)."""
        changed: set[str] = set()
        while True:
            try:
                reader, state, detail, when, extra = self._changes.get_nowait()
            except queue.Empty:
                break
            status = self.status.get(reader)
            if status is None:  # a reader removed by a reload, saying its last words
                continue
            previous = status["state"]
            if extra is not None and self._apply_extra(status, extra):
                changed.add(reader)
            if status["state"] != state:
                status["state"], status["since"], status["detail"] = state, rfc3339(when), detail
                changed.add(reader)
                log.info("reader_state", reader=reader, state=state, detail=detail)
                if state == "idle":
                    self.idle_episodes[reader] += 1
                if state == "connected" and previous != "idle":
                    if reader in self._ever_connected:
                        self.reconnects[reader] += 1
                    self._ever_connected.add(reader)
            elif status["detail"] != detail:  # e.g. "starting inventory" -> "inventorying": same state, since kept
                status["detail"] = detail
                changed.add(reader)
                log.info("reader_state", reader=reader, state=state, detail=detail)
        if connected and not self._was_connected:
            changed = set(self.status)
        self._was_connected = connected
        if connected:
            for reader in sorted(changed):
                publish(reader, json.dumps({"reader": reader, **self.status[reader]}).encode())

    @staticmethod
    def _apply_extra(status: Status, extra: dict[str, Any]) -> bool:
        """``extra`` is the reader's whole extra state (LLRP: per-antenna and GPI): a key it no longer has
        leaves the status (a disconnected reader's antennas are unknown, not "connected"). Whether it changed."""
        gone = [k for k in status if k not in _CORE and k not in extra]
        for key in gone:
            del status[key]
        if gone or any(status.get(k) != v for k, v in extra.items()):
            status.update(extra)
            return True
        return False

    def republish(self) -> None:
        """Publish every status again at the next update (a new broker connection after a reload)."""
        self._was_connected = False
