"""The no-read watchdog, on the reader's thread: a reader that answers (keepalives arrive) and sends no tag
report for ``no_reads_after`` is ``idle``.

Only time while reading is wanted counts: with a GPI gate, the time its windows are open (and lingering),
added up over windows; between windows a gated reader is quiet by design. An RO_ACCESS_REPORT without a
TagReportData is not a tag report. Going idle takes one corrective step: GET_ROSPECS, and START_ROSPEC
again if the ROSpec is not Active (``rospec.RospecRun``; still not Active after that ends the session, and
the driver reconnects with its usual backoff). At most one step per ``no_reads_after`` of silence, so an
empty dock door costs one GET_ROSPECS per period, never a reconnect storm. The first tag read ends it.
"""

from __future__ import annotations

from typing import Any, Protocol

from drivers.llrp.rospec import RospecRun
from gateway.domain.log import get_logger

log = get_logger(__name__)


class Link(Protocol):
    def publish(self, detail: str, **extra: Any) -> None: ...


class NoReadWatchdog:
    """``tick(now)`` often (monotonic seconds), ``on_reads(n)`` with each report's tag reads; ``idle`` says
    whether the reader is idle now. Does nothing when ``after`` is None."""

    def __init__(self, reader: str, after: float | None, rospec: RospecRun, link: Link, now: float) -> None:
        self.reader = reader
        self.after = after
        self.rospec = rospec
        self.link = link
        self.idle = False
        self.quiet_s = 0.0  # time without a tag report while reading was wanted
        self.next_step_s = after or 0.0  # quiet_s at which the next corrective step is due
        self.steps = 0
        self._last_tick = now
        self._answers_at_step = 0
        self._reported_state = True

    def on_reads(self, reads: int) -> None:
        if not reads or self.after is None:
            return
        quiet, self.quiet_s, self.next_step_s = self.quiet_s, 0.0, self.after
        if self.idle:
            self.idle = False
            log.info("reads_resumed", reader=self.reader, quiet_s=round(quiet, 1), steps=self.steps)
            self.link.publish(self.rospec.detail)

    def tick(self, now: float) -> None:
        elapsed, self._last_tick = now - self._last_tick, now
        if self.after is None:
            return
        if self.rospec.wanted:
            self.quiet_s += elapsed
        if self.quiet_s >= self.next_step_s:
            self._step()
        elif self.idle and not self._reported_state and self.rospec.answers > self._answers_at_step:
            self._reported_state = True
            name = self.rospec.last_state_name
            self.link.publish(
                f"{self._quiet()}; ROSpec {name}" + (": no tags in the field?" if name == "active" else "")
            )

    def _quiet(self) -> str:
        return f"no tag report for {self.quiet_s:.0f}s (no_reads_after {self.after:g}s) while the reader answers"

    def _step(self) -> None:
        assert self.after is not None
        self.next_step_s = self.quiet_s + self.after
        self.steps += 1
        if not self.idle:
            self.idle = True
            log.warning("no_reads", reader=self.reader, quiet_s=round(self.quiet_s, 1), after_s=self.after)
        log.info("no_reads_step", reader=self.reader, step=self.steps, action="GET_ROSPECS")
        self.link.publish(f"{self._quiet()}: checking the ROSpec")
        self._answers_at_step, self._reported_state = self.rospec.answers, False
        self.rospec.corrective_step()
