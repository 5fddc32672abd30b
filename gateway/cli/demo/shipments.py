"""The demo's back office: posts the scenario's shipments (its ``shipments:`` block) to the gateway, and
closes them, at their times in every loop of the scenario, each loop under its own id (``SO-4001-2``).

The scenario's clock is found from the reads: the first read of the first loop is its first visit's
start. Commands go through the gateway's ``CommandPort``, as the MQTT command topic and the HTTP API do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.domain.log import get_logger
from gateway.domain.model import TagRead
from gateway.shipments.commands import Command, CommandPort, Reply

if TYPE_CHECKING:
    from simulators.llrp.scenario import Scenario

log = get_logger(__name__)


class DemoShipments:
    def __init__(self, scenario: Scenario, commands: CommandPort) -> None:
        from gateway.bench.shipments import shipment_cases

        self.cases = shipment_cases(scenario)
        self.commands = commands
        self.duration = scenario.duration_s
        self.first_visit = min((v.start_s for v in scenario.truth()), default=0.0)
        self.started: float | None = None  # monotonic time of the scenario's 0 s
        self.replies: list[tuple[str, str, Reply]] = []  # (action, id, reply)
        self._done: set[tuple[int, int, str]] = set()  # (loop, case, action)
        self._lock = threading.Lock()

    def tap_batch(self, batch: list[TagRead]) -> None:
        """``Gateway.tap_reads``: the first read fixes the scenario's clock."""
        if self.started is None and batch:
            self.started = time.monotonic() - self.first_visit

    def due(self, now: float) -> list[Command]:
        """The commands whose time has come (post at 1 s before the first read: at once)."""
        if not self.cases:
            return []
        elapsed = now - self.started if self.started is not None else self.cases[0].post_s
        loop = int(elapsed // self.duration) if self.duration > 0 else 0
        at = elapsed - loop * self.duration
        out: list[Command] = []
        for i, case in enumerate(self.cases):
            sid = f"{case.order.id}-{loop + 1}"
            steps = [("post", case.post_s)] + ([("close", case.close_s)] if case.close_s is not None else [])
            for action, when in steps:
                key = (loop, i, action)
                if at >= when and key not in self._done:
                    self._done.add(key)
                    order = case.order.model_copy(update={"id": sid}) if action == "post" else None
                    out.append(Command(action, sid, order, "demo", "demo back office"))  # type: ignore[arg-type]
        return out

    def run(self, stop: threading.Event) -> None:
        """Until ``stop``: send what is due, four times a second."""
        while not stop.wait(0.25):
            for command in self.due(time.monotonic()):
                self.commands.submit_async(command, self._answered(command))

    def _answered(self, command: Command) -> Callable[[Reply], None]:
        def on_reply(reply: Reply) -> None:
            with self._lock:
                self.replies.append((command.action, command.shipment_id, reply))
            if not reply.accepted:
                log.warning(
                    "demo_shipment_refused", action=command.action, shipment=command.shipment_id, reason=reply.reason
                )

        return on_reply
