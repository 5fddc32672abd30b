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
from gateway.shipments.commands import CommandError, CommandPort, Reply, parse_command

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
        payload = bytes(message.payload)
        echo = _correlation(payload)
        try:
            command = parse_command(payload, "mqtt", "mqtt")
        except CommandError as exc:
            self.unreadable[("mqtt", "invalid", "refused")] += 1
            log.warning("shipment_command", source="mqtt", result="refused", reason=exc.reason, field=exc.field)
            reply = Reply(False, 422, exc.reason, exc.field)
            self._send(topic, correlation, reply.to_json(_action(payload), None), echo)
            return

        def answer(reply: Reply) -> None:
            self._send(topic, correlation, reply.to_json(command.action, command.shipment_id), echo)

        self.port.submit_async(command, answer)

    def _send(self, topic: str, correlation: bytes | None, doc: dict[str, Any], echo: str | None) -> None:
        if echo is not None:
            doc["correlation"] = echo
        self.reply_out(topic, json.dumps(doc, separators=(",", ":")).encode(), correlation)


def _peek(payload: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _correlation(payload: bytes) -> str | None:
    value = _peek(payload).get("correlation")
    return value[:256] if isinstance(value, str) else None


def _action(payload: bytes) -> str:
    value = _peek(payload).get("command")
    return value[:32] if isinstance(value, str) else "?"
