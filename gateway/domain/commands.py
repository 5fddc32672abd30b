"""Accepted commands as events of their own (type ``command``), so the journal holds them in its one chain.

A command that changes what the gateway does or knows (a shipment posted, closed, cancelled or
acknowledged; the config reloaded; an actor signed in or out) is stored through the outbox like every
event: in the same transaction as what it changed, with the next seq, linked into the journal and
published on ``{prefix}/{gateway}/events/{location}``, so a consumer that checks seqs and links sees
every entry. A command of the whole gateway (a reload) has ``location`` null and is published under the
location segment ``_gateway`` (a location's name cannot start with ``_``).

Fields (docs/event.schema.json): ``command``, ``source`` (how it came: mqtt, http, signal, scanner,
rfid, timeout), ``by`` (who: the API token's or the MQTT client's name; null when nobody can be named),
and per command ``shipment`` and ``order`` (a post's expected items as posted), ``config_sha256``,
``operator`` or ``vehicle`` (the actor signed in or out).
"""

from __future__ import annotations

from typing import Any, Literal

from gateway.domain.model import LocationEvent

CommandName = Literal[
    "shipment_post",
    "shipment_close",
    "shipment_cancel",
    "shipment_acknowledge",
    "config_reload",
    "actor_sign_in",
    "actor_sign_out",
]
GATEWAY_SEGMENT = "_gateway"
"""The topic's location segment of a command of the whole gateway."""


def command_event(
    gateway: str,
    command: CommandName,
    now: float,
    source: str,
    by: str | None,
    location: str | None = None,
    **fields: Any,
) -> LocationEvent:
    """The event that journals an accepted command; ``fields``: what the command said (JSON values)."""
    return LocationEvent(
        type="command",
        time=now,
        gateway=gateway,
        location=location or "",
        reader="",
        epc="",
        antennas=[],
        reads=0,
        rssi_max=None,
        first_seen=now,
        last_seen=now,
        extra={
            "location": location,
            "reader": None,
            "epc": None,
            "command": command,
            "source": source,
            "by": by or None,
            **fields,
        },
    )
