"""Commands on shipments from other threads (the MQTT client's, the HTTP server's) to the main loop.

A command is handed over here and answered by the main loop once what it changed is committed to the
outbox (so an ``accepted`` reply means durable). ``submit`` blocks the caller (an HTTP request) up to a
timeout; ``submit_async`` calls back (an MQTT message, answered on its response topic). The main loop
``take``s the pending commands each turn and ``answer``s each one.
"""

from __future__ import annotations

import json
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from gateway.shipments.order import SHIPMENT_ID_PATTERN, ShipmentOrder

Action = Literal["post", "close", "cancel", "acknowledge"]
ACTIONS: tuple[Action, ...] = ("post", "close", "cancel", "acknowledge")


@dataclass(frozen=True, slots=True)
class Command:
    action: Action
    shipment_id: str
    order: ShipmentOrder | None = None  # post only
    source: str = "mqtt"  # mqtt | http
    actor: str = ""  # who sent it: the token's name, the MQTT client


@dataclass(frozen=True, slots=True)
class Reply:
    """``status`` is the HTTP status the API answers with: 200 or 201 accepted; 404 unknown shipment;
    409 a conflict (duplicate id, a door busy, a closed shipment); 422 invalid; 503 the gateway cannot."""

    accepted: bool
    status: int
    reason: str = ""
    field: str | None = None  # which field was refused (dotted: items.3)
    shipment: dict[str, Any] | None = None  # the shipment after the command

    def to_json(self, command: str, shipment_id: str | None) -> dict[str, Any]:
        result = "accepted" if self.accepted else "refused"
        out: dict[str, Any] = {"command": command, "id": shipment_id, "result": result}
        if not self.accepted:
            out["reason"] = self.reason
            if self.field is not None:
                out["field"] = self.field
        if self.shipment is not None:
            out["shipment"] = self.shipment
        return out


def refused(status: int, reason: str, field_name: str | None = None) -> Reply:
    return Reply(False, status, reason, field_name)


@dataclass(slots=True)
class Pending:
    command: Command
    _on_reply: Callable[[Reply], None] = field(repr=False)

    def answer(self, reply: Reply) -> None:
        self._on_reply(reply)


class CommandPort:
    """Thread-safe hand-over of shipment commands to the main loop."""

    def __init__(self, wake: Callable[[], None] = lambda: None) -> None:
        self._queue: queue.SimpleQueue[Pending] = queue.SimpleQueue()
        self.wake = wake

    def submit_async(self, command: Command, on_reply: Callable[[Reply], None]) -> None:
        """Any thread; ``on_reply`` is called on the main loop (it must be quick and must not raise)."""
        self._queue.put(Pending(command, on_reply))
        self.wake()

    def submit(self, command: Command, timeout: float = 5.0) -> Reply:
        """Any thread but the main loop's: wait for the reply, or say the gateway did not answer in time."""
        done = threading.Event()
        box: list[Reply] = []

        def on_reply(reply: Reply) -> None:
            box.append(reply)
            done.set()

        self.submit_async(command, on_reply)
        if not done.wait(timeout):
            return refused(503, f"the gateway did not answer within {timeout:g}s (busy or stopping); try again")
        return box[0]

    def take(self) -> list[Pending]:
        """The main loop: every command handed over since the last call, in order."""
        if self._queue.empty():  # nearly every turn: no exception raised for nothing
            return []
        out: list[Pending] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out


class CommandError(ValueError):
    def __init__(self, reason: str, field_name: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field_name


def parse_command(payload: bytes, source: str, actor: str) -> Command:
    """A JSON command (the MQTT command topic's payload) -> ``Command``; ``CommandError`` names the field.

    ``{"command": "post", "shipment": {...order...}}``, ``{"command": "close" | "cancel" | "acknowledge",
    "id": "..."}``.
    """
    return command_from(decode_command(payload), source, actor)


def decode_command(payload: bytes) -> dict[str, Any]:
    """The command's JSON object, or ``CommandError``."""
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise CommandError("expected a JSON object with 'command'")
    return doc


def command_from(doc: dict[str, Any], source: str, actor: str) -> Command:
    """A decoded command object -> ``Command``; ``CommandError`` names the field."""
    action = doc.get("command")
    if action not in ACTIONS:
        raise CommandError(f"command {action!r}: expected one of {', '.join(ACTIONS)}", "command")
    if action == "post":
        body = doc.get("shipment")
        if not isinstance(body, dict):
            raise CommandError("post needs 'shipment': an object with id, location, direction, items", "shipment")
        try:
            order = ShipmentOrder.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in ("shipment", *first["loc"]))
            raise CommandError(f"{where}: {first['msg']}", where) from None
        return Command("post", order.id, order, source, actor)
    shipment_id = doc.get("id")
    if not isinstance(shipment_id, str) or not shipment_id:
        raise CommandError(f"{action} needs 'id': the shipment's id", "id")
    if not re.fullmatch(SHIPMENT_ID_PATTERN, shipment_id) or len(shipment_id) > 64:
        raise CommandError(f"id {shipment_id[:80]!r} is not a shipment id", "id")
    return Command(action, shipment_id, None, source, actor)
