"""The simulated reader's state: its profile, the event buffer the stream drains, and the faults.

Scenario time 0 is the first profile start and then runs on with the wall clock (times ``speed``): while
no profile runs (stopped, rebooting) the tags still move, and their reads are lost, as at a real door.
Events wait in a buffer of ``buffer_size`` while no stream takes them; beyond it the oldest are purged
and an ``overflow`` event says so, as the R700 does.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque

from simulators.impinj_iot.encoding import MALFORMED, TagLines, event_line, rfc3339
from simulators.impinj_iot.faults import Fault
from simulators.llrp.scenario import ReadStream, Scenario

log = logging.getLogger("simulators.impinj_iot")


class SimReader:
    """Everything under ``cond`` (a Condition: stream handlers wait on it for lines)."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        antennas: int,
        presets: tuple[str, ...] = ("default",),
        faults: tuple[Fault, ...] = (),
        speed: float = 1.0,
        loop: bool = False,
        buffer_size: int = 100_000,
    ) -> None:
        self.scenario = scenario
        self.antennas = antennas
        self.presets = presets
        self.faults = faults
        self.speed = speed
        self.loop = loop
        self.buffer_size = buffer_size
        self.cond = threading.Condition()
        self.began = time.monotonic()
        self.state = "idle"
        self.owner: str | None = None  # "client" or "other" while running
        self.active: str | None = None  # the preset id, or "transient"
        self.reading: frozenset[int] = frozenset()
        self.lines: deque[str] = deque()
        self.stream_gen = 0  # bumped to end every open stream (cut, reboot)
        self.stalled: tuple[int, float] | None = None  # (stream generation, until)
        self.rebooting_until = 0.0
        self.starts = self.stops = self.reboots = self.purged = 0
        self._t0: float | None = None
        self._offset = 0.0
        self._player: ReadStream | None = None
        self._fired: set[int] = set()
        self._tags = TagLines()
        self._rng = random.Random(scenario.seed)
        if any(f.kind == "busy" for f in faults):
            self.state, self.owner, self.active = "running", "other", "someone-elses-preset"

    # ---- requests (called with cond held by the server) ----------------------------------------

    def refusal(self, now: float) -> tuple[int, str] | None:
        """(status, message) when the reader answers every request so now, else None."""
        if now < self.rebooting_until:
            return 503, "The reader is rebooting"
        for f in self.faults:
            if f.kind == "booting-for" and now - self.began < f.at_s:
                return 503, "The reader is booting"
            if f.kind == "unauthorized-for" and now - self.began < f.at_s:
                return 401, "Unauthorized"
        return None

    def start(self, profile: str, antennas: frozenset[int], now: float) -> None:
        self.state, self.owner, self.active, self.reading = "running", "client", profile, antennas
        self.starts += 1
        if self._t0 is None:
            self._t0 = now
            self._player = ReadStream(self.scenario)
        self.lines.append(event_line("inventoryStatus", {"status": "running"}, time.time()))
        log.info("profile started: %s antennas=%s", profile, sorted(antennas))
        self.cond.notify_all()

    def stop(self, why: str) -> None:
        if self.state == "running":
            self.lines.append(event_line("inventoryStatus", {"status": "idle"}, time.time()))
        self.state, self.owner, self.active = "idle", None, None
        self.stops += 1
        log.info("profile stopped (%s)", why)
        self.cond.notify_all()

    # ---- the clock ------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        with self.cond:
            if self._t0 is None or self._player is None:
                return
            t = (now - self._t0) * self.speed
            self._faults(t, now)
            reads = self._player.reads_until(t - self._offset)
            if self._player.exhausted and self.loop and t - self._offset >= self.scenario.duration_s:
                self._offset += self.scenario.duration_s
                self._player = ReadStream(self.scenario)
            if self.state == "running" and reads:
                wall = time.time()
                for r in reads:
                    if r.antenna in self.reading:
                        freq = 902750 + 500 * self._rng.randrange(50)
                        phase = self._rng.uniform(0, 360)
                        self.lines.append(self._tags.line(r.epc, r.antenna, r.rssi, wall, freq, phase))
            excess = len(self.lines) - self.buffer_size
            if excess > 0:
                for _ in range(excess):
                    self.lines.popleft()
                self.purged += excess
                self.lines.append(
                    event_line("overflow", {"eventsPurged": excess, "eventsRemaining": len(self.lines)}, time.time())
                )
                log.warning("buffer overflow: purged %d events", excess)
            if self.lines:
                self.cond.notify_all()

    def _faults(self, t: float, now: float) -> None:
        for i, f in enumerate(self.faults):
            if i in self._fired or f.kind in ("busy", "booting-for", "unauthorized-for") or t < f.at_s:
                continue
            self._fired.add(i)
            log.info("fault: %s at %.1fs", f.kind, t)
            wall = time.time()
            if f.kind == "cut-after":
                self.stream_gen += 1
            elif f.kind == "stall-after":
                self.stalled = (self.stream_gen, now + f.for_s if f.for_s is not None else float("inf"))
            elif f.kind == "reboot-after":
                self.state, self.owner, self.active = "idle", None, None
                self.stream_gen += 1
                self.lines.clear()
                self.reboots += 1
                self.rebooting_until = now + (f.for_s or 3.0)
            elif f.kind == "overflow-after":
                member = {
                    "firstEventTimestamp": rfc3339(wall - 2),
                    "lastEventTimestamp": rfc3339(wall - 1),
                    "eventsPurged": 120,
                    "eventsRemaining": 0,
                }
                self.lines.append(event_line("overflow", member, wall))
            elif f.kind == "malformed-after":
                self.lines.extend(MALFORMED)
            elif f.kind == "antenna-off":
                self.lines.append(event_line("antennaDisconnected", {"antennaPort": f.antenna}, wall))
            self.cond.notify_all()

    def is_stalled(self, gen: int, now: float) -> bool:
        return self.stalled is not None and self.stalled[0] == gen and now < self.stalled[1]
