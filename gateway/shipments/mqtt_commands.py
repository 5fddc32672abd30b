"""Shipment commands over MQTT: ``{prefix}/{gateway}/commands/shipments`` (QoS 1, JSON).

The reply (``accepted`` or ``refused`` with the reason and the field) goes to the request's MQTT 5
response topic with its correlation data, or else to ``{prefix}/{gateway}/replies/shipments``; a
``correlation`` string in the command is echoed too (for MQTT 3.1.1 clients). Who may send commands is
the broker's ACL on the command topic (docs/security.md). A malformed command is answered at once from the
network thread; a well-formed one after the main loop has committed what it changed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho

from gateway.domain.log import get_logger
from gateway.shipments.commands import CommandError, CommandPort, Reply, command_from, decode_command

log = get_logger(__name__)

ReplyOut = Callable[[str, bytes, bytes | None], None]  # (topic, payload, correlation data)


class MqttCommands:
    def __init__(self, port: CommandPort, reply_out: ReplyOut, reply_topic: str) -> None:
        self.port = port
        self.reply_out = reply_out
        self.reply_topic = reply_topic
        self.unreadable: Counter[tuple[str, str, str]] = Counter()  # ("mqtt", "invalid", "refused") -> count

    def on_message(self, message: paho.MQTTMessage) -> None:
        """On the MQTT network thread."""
        props = getattr(message, "properties", None)
        topic = getattr(props, "ResponseTopic", None) or self.reply_topic
        correlation = getattr(props, "CorrelationData", None)
        doc: dict[str, Any] = {}
        try:
            doc = decode_command(bytes(message.payload))
            command = command_from(doc, "mqtt", "mqtt")
        except CommandError as exc:
            self.unreadable[("mqtt", "invalid", "refused")] += 1
            log.warning("shipment_command", source="mqtt", result="refused", reason=exc.reason, field=exc.field)
            action = doc.get("command")
            reply = Reply(False, 422, exc.reason, exc.field)
            self._send(topic, correlation, reply.to_json(action[:32] if isinstance(action, str) else "?", None), doc)
            return

        def answer(reply: Reply) -> None:
            self._send(topic, correlation, reply.to_json(command.action, command.shipment_id), doc)

        self.port.submit_async(command, answer)

    def _send(self, topic: str, correlation: bytes | None, out: dict[str, Any], command: dict[str, Any]) -> None:
        echo = command.get("correlation")
        if isinstance(echo, str):
            out["correlation"] = echo[:256]
        self.reply_out(topic, json.dumps(out, separators=(",", ":")).encode(), correlation)
