"""The main loop's shipment work in one place: commands in, the book, the door status and lights out.

Each turn the gateway calls ``take_commands`` (the commands handed over since the last turn, applied to
the book; refused with 503 while the outbox cannot store), ``check`` (the book observes the turn's events
and closes what is due), stores the events with ``take_dirty()`` in one transaction, answers the
commands, then ``show`` (door views for the snapshot, the retained door status, the light stacks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from drivers.base import ReaderDriver
from gateway.config import Config
from gateway.domain.model import LocationEvent
from gateway.shipments.board import DoorBoard, Publish
from gateway.shipments.book import ShipmentBook
from gateway.shipments.commands import CommandPort, Pending, Reply, refused
from gateway.shipments.lights import DoorLights
from gateway.shipments.mqtt_commands import MqttCommands, ReplyOut

SHOW_EVERY_S = 1.0  # door views are rebuilt at least this often: a verdict is shown for a while


class ShipmentDesk:
    def __init__(self, config: Config, wake: Callable[[], None], reply_out: ReplyOut, reply_topic: str) -> None:
        self.commands = CommandPort(wake)  # from the MQTT client's thread and the HTTP API's
        self.book = ShipmentBook(config)
        self.mqtt = MqttCommands(self.commands, reply_out, reply_topic)
        self._board = DoorBoard()
        self._lights = DoorLights(config)
        self._version = -1
        self._shown_at = 0.0
        self.door_views: dict[str, dict[str, Any]] = {}
        self.shipment_views: dict[str, dict[str, Any]] = {}
        self.command_counts: dict[tuple[str, str, str], int] = {}  # (source, action, result) -> commands
        self.exception_counts: dict[tuple[str, str], int] = {}  # (location, reason) -> item exceptions
        self._counted = (-1, -1)
        self._connects = -1

    def reconfigure(self, config: Config, reply_topic: str) -> None:
        self.book.reconfigure(config)
        self._lights = DoorLights(config)
        self.mqtt.reply_topic = reply_topic

    def take_commands(self, now: float, events: list[LocationEvent], fault: str | None) -> list[tuple[Pending, Reply]]:
        """Apply the commands handed over; their events join ``events``. Answer after the commit."""
        answers: list[tuple[Pending, Reply]] = []
        for pending in self.commands.take():
            if fault is not None:
                pending.answer(refused(503, f"cannot store the change now ({fault}); try again"))
                continue
            reply, made = self.book.command(pending.command, now)
            events += made
            answers.append((pending, reply))
        return answers

    def check(self, events: list[LocationEvent], now: float) -> list[LocationEvent]:
        """The exceptions the turn's events raise, and the verdicts of what closes now."""
        return self.book.observe(events, now) + self.book.tick(now)

    def show(
        self, now: float, connects: int, connected: bool, publish: Publish, drivers: Iterable[ReaderDriver]
    ) -> None:
        """Cheap when nothing changed (it runs every turn): only counters are compared."""
        book = self.book
        counted = (book.tally, self.mqtt.unreadable.total())
        if counted != self._counted:
            self._counted = counted
            self.command_counts = dict(book.commands + self.mqtt.unreadable)
            self.exception_counts = dict(book.exceptions)
        if book.version == self._version and now - self._shown_at < SHOW_EVERY_S and connects == self._connects:
            return
        self._version, self._shown_at, self._connects = book.version, now, connects
        self.door_views = book.doors(now)
        self.shipment_views = book.views()
        self._board.update(self.door_views, connects, connected, publish)
        self._lights.update(self.door_views, {d.name: d for d in drivers})
