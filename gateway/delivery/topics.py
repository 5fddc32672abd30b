"""Every MQTT topic the gateway publishes on, from the config's templates: the one place where a
template meets its values. Built anew from each config, so a reload that changes ``topic_prefix`` or a
template changes every topic at once."""

from __future__ import annotations

import json

from gateway.config import MqttSettings
from gateway.domain.commands import GATEWAY_SEGMENT


class Topics:
    def __init__(self, settings: MqttSettings, gateway_id: str) -> None:
        fixed = {"prefix": settings.topic_prefix, "gateway": gateway_id}
        templates = settings.topics
        self.status = templates.status.format(**fixed)
        # the fixed parts filled in now, the per-message ones ({location}, {type}, {reader}) left for later
        self._event = _partial(templates.events, fixed)
        self._epcis = _partial(templates.epcis, fixed)
        self._reader = _partial(templates.reader_status, fixed)
        base = f"{settings.topic_prefix}/{gateway_id}"
        self.shipment_commands = f"{base}/commands/shipments"
        self.shipment_replies = f"{base}/replies/shipments"
        self._door = base + "/doors/{location}/status"
        self._present = base + "/locations/{location}/present"
        self.journal_checkpoint = base + "/journal/checkpoint"  # retained: the journal's latest signed checkpoint
        self._owner_events = base + "/owners/{owner}/events/{location}"

    def event(self, location: str, kind: str) -> str:
        """An empty location: a command of the whole gateway (gateway.domain.commands)."""
        return self._event.format(location=location or GATEWAY_SEGMENT, type=kind)

    def epcis(self, location: str, kind: str) -> str:
        return self._epcis.format(location=location, type=kind)

    def reader_status(self, reader: str) -> str:
        return self._reader.format(reader=reader)

    def door_status(self, location: str) -> str:
        """Retained: the door's shipment state and progress."""
        return self._door.format(location=location)

    def present(self, location: str) -> str:
        """Retained: what is present at the location (gateway.ops.present)."""
        return self._present.format(location=location)

    def owner_event(self, owner: str, location: str) -> str:
        """An event again, under its owner: for a broker ACL per owner (mqtt.owner_topics)."""
        return self._owner_events.format(owner=owner, location=location)

    def owner_event_of(self, payload: bytes) -> str | None:
        """The owner's topic of a stored event's payload; None for an event about no tag."""
        doc = json.loads(payload)
        owner = doc.get("owner")
        return self.owner_event(owner, doc["location"]) if owner else None


class _Later(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _partial(template: str, values: dict[str, str]) -> str:
    """``{prefix}/{gateway}/events/{location}`` -> ``dockgate/gw-1/events/{location}``: the fixed values
    in (their braces escaped, so the later ``format`` leaves them alone), the others kept for later."""
    escaped = {k: v.replace("{", "{{").replace("}", "}}") for k, v in values.items()}
    return template.format_map(_Later(escaped))
