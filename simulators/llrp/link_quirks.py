"""Connection-side quirks of real readers: what happens to the link rather than to the reports.

``no-keepalives``: the reader never sends KEEPALIVE, even when SET_READER_CONFIG asks for them.
``stale-session=S``: a previous client's session is held for S seconds from the first connection attempt;
every attempt until then gets a ConnectionAttemptEvent "Failed_A_Client_Initiated_Connection_Already_Exists"
and is closed, then the reader frees.
``reboot-after=S``: S seconds after the first client connects, the reader reboots: it drops the
connection, refuses connections for ``REBOOT_DOWN_S``, and comes back with no ROSpec and its default
configuration (each connection starts with neither anyway: they live in the client session).

State is the reader's, shared by the acceptor and the client sessions: a lock guards it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from simulators.llrp.durations import parse_duration

TIMED: Final = ("stale-session", "reboot-after")  # quirks that take a time: NAME=DURATION
REBOOT_DOWN_S: Final = 2.0


def quirk_name(text: str) -> str:
    """``reboot-after=3s`` -> ``reboot-after``; a plain quirk is its own name."""
    return text.partition("=")[0]


def quirk_seconds(text: str) -> float:
    """The time of a timed quirk, or ValueError saying the form it takes."""
    name, _, value = text.partition("=")
    if not value:
        raise ValueError(f"quirk {name}: expected {name}=SECONDS, e.g. {name}=3s")
    seconds = parse_duration(value, f"--quirk {text}")  # a ScenarioError is a ValueError
    if seconds <= 0:
        raise ValueError(f"quirk {name}: expected a time > 0, got {value!r}")
    return seconds


@dataclass
class LinkQuirks:
    """The reader's connection quirks and their clock (monotonic seconds)."""

    no_keepalives: bool = False
    stale_hold_s: float | None = None
    reboot_after_s: float | None = None
    reboots: int = 0
    refused_stale: int = 0  # attempts refused while the stale session was held
    _first_attempt: float | None = None
    _first_client: float | None = None
    _down_until: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_quirks(cls, quirks: Iterable[str]) -> LinkQuirks:
        link = cls()
        for text in quirks:
            name = quirk_name(text)
            if name == "no-keepalives":
                link.no_keepalives = True
            elif name == "stale-session":
                link.stale_hold_s = quirk_seconds(text)
            elif name == "reboot-after":
                link.reboot_after_s = quirk_seconds(text)
        return link

    def held_by_stale_session(self, now: float) -> bool:
        """A connection attempt at ``now``: True while the stale session is still held (the first attempt
        starts the hold)."""
        if self.stale_hold_s is None:
            return False
        with self._lock:
            if self._first_attempt is None:
                self._first_attempt = now
            held = now - self._first_attempt < self.stale_hold_s
            if held:
                self.refused_stale += 1
            return held

    def client_connected(self, now: float) -> None:
        with self._lock:
            if self._first_client is None:
                self._first_client = now

    def reboot_due(self, now: float) -> bool:
        """True once, when the reboot is due: the reader is then down for ``REBOOT_DOWN_S``."""
        with self._lock:
            start = self._first_client
            if self.reboot_after_s is None or self.reboots or start is None or now - start < self.reboot_after_s:
                return False
            self.reboots += 1
            self._down_until = now + REBOOT_DOWN_S
            return True

    def down(self, now: float) -> bool:
        """Rebooting: no connection is accepted."""
        with self._lock:
            return self._down_until is not None and now < self._down_until
