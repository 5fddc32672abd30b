"""The demo without a terminal: one readable line per delivered message."""

from __future__ import annotations

from typing import Any


def format_event(event: dict[str, Any]) -> str:
    """One readable line per event."""
    clock = str(event.get("time", ""))[11:23]
    kind = str(event.get("type", "?")).upper()
    if kind.startswith("SHIPMENT_"):
        unexpected = " ".join(str(u.get("epc")) for u in event.get("unexpected", []))
        return (
            f"{clock}  #{event.get('seq', '?'):<4} {kind} {event.get('shipment')} at {event.get('location')}: "
            f"{event.get('seen')}/{event.get('expected')} passed; missing {event.get('missing') or '-'}; "
            f"unexpected {unexpected or '-'}; wrong door {event.get('wrong_door') or '-'}"
        )
    if event.get("shipment") and event.get("reason"):
        kind = f"{kind} {str(event['reason']).upper()} ({event['shipment']})"
    antennas = ",".join(str(a) for a in event.get("antennas", []))
    rssi = event.get("rssi_max")
    rssi_text = f"{rssi:.0f} dBm" if isinstance(rssi, int | float) else "-"
    direction = f"  direction {event['direction']}" if event.get("direction") else ""
    return (
        f"{clock}  #{event.get('seq', '?'):<4} {kind:<9} {event.get('location', '?'):<8} "
        f"{event.get('epc', '?')}  antennas {antennas:<8} reads {event.get('reads', 0):<4} rssi {rssi_text}{direction}"
    )


def format_document(topic: str, doc: dict[str, Any]) -> str:
    """One readable line per ObjectEvent of an EPCIS document."""
    lines = []
    for ev in doc.get("epcisBody", {}).get("eventList", []):
        lines.append(
            f"EPCIS {topic}: {ev.get('type')} {ev.get('action')} {ev.get('bizStep', '-')}/{ev.get('disposition', '-')} "
            f"{' '.join(ev.get('epcList', []))} at {ev.get('readPoint', {}).get('id', '-')} {ev.get('eventID')}"
        )
    return "\n".join(lines)


def format_message(topic: str, payload: bytes, kind: str, content: Any) -> str | None:
    """The line for one delivered message, with the kind and content ``DoorWatch.message`` gave it; None for
    what is not shown (reader status)."""
    if kind == "status":
        return f"gateway status: {content}"
    if kind == "event":
        return format_event(content)
    if kind == "epcis":
        return format_document(topic, content)
    if kind == "door":
        door = content
        progress = f" {door.get('seen')}/{door.get('expected')}" if door.get("shipment") else ""
        missing = f" missing {door.get('missing')}" if door.get("missing") else ""
        state = str(door.get("state")).upper()
        return f"door {door.get('location')}: {state} {door.get('shipment') or ''}{progress}{missing}"
    if kind == "other":
        return f"{topic}: {payload!r}"
    return None
