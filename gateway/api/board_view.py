"""What a door board shows, as one JSON object: ``board(snapshot, location, holder, owners)``.

A pure function of the main loop's snapshot. An owner-scoped holder (a customer's view) gets no tag, EPC
or URI of another owner anywhere in it: present tags, events and door lists are filtered by owner,
tagless events lose their item lists, reports keep only the holder's rows. Counts that cannot be
attributed (``seen``/``expected`` of a shipment) stay: they name no tag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gateway.api.auth import Holder
from gateway.core.owners import Owners
from gateway.domain.model import rfc3339
from gateway.ops.snapshot import GatewaySnapshot

EVENTS_SHOWN = 20
TAGS_SHOWN = 200  # a screen shows no more; ``present.not_shown`` counts the rest of those listed
ITEM_LISTS = ("missing", "unexpected", "wrong_door", "wrong_direction")
_EVENT_FIELDS = (
    *("seq", "type", "time", "epc", "uri", "owner", "direction", "reason", "shipment", "state", "reader"),
    *("antennas", "reads", "dwell_s", "expected", "seen"),
)


def doors(snapshot: GatewaySnapshot) -> list[str]:
    """The configured locations: every door view and every present list, in config order."""
    return list(dict.fromkeys([*snapshot.doors, *snapshot.present]))


def door_state(snapshot: GatewaySnapshot, location: str) -> str:
    return str(snapshot.doors.get(location, {}).get("state") or "idle")


def board(snapshot: GatewaySnapshot, location: str, holder: Holder, owners: Owners) -> dict[str, Any]:
    scope = holder.owner
    present = snapshot.present.get(location)
    return {
        "gateway": snapshot.gateway,
        "location": location,
        "time": rfc3339(snapshot.taken),
        "owner": scope,
        "door": _door(snapshot.doors.get(location), location, scope, owners),
        "present": None if present is None else _present(present.to_json(snapshot.gateway, scope)),
        "events": _events(snapshot.recent_events, location, scope, owners),
        "readers": _readers(snapshot, location),
        "broker": {"connected": snapshot.broker.connected, "where": snapshot.broker.where},
        "outbox": {"pending": snapshot.outbox.pending, "fault": snapshot.outbox.fault},
        "reports": _reports(snapshot.reports, location, scope),
    }


def _present(shown: dict[str, Any]) -> dict[str, Any]:
    tags = shown["tags"]
    return {**shown, "tags": tags[:TAGS_SHOWN], "not_shown": max(0, len(tags) - TAGS_SHOWN)}


def _keep(items: Iterable[Any], scope: str | None, owners: Owners) -> list[Any]:
    """Items of a door or event list (strings, or dicts with ``epc``) that the scope may see."""
    kept = []
    for item in items:
        if scope is not None:
            text = item.get("epc") if isinstance(item, Mapping) else item
            if not isinstance(text, str) or owners.of_text(text) != scope:
                continue
        kept.append(dict(item) if isinstance(item, Mapping) else item)
    return kept


def scoped(view: Mapping[str, Any], scope: str | None, owners: Owners) -> dict[str, Any]:
    """A door or shipment view as the API answers it: for an owner-scoped holder, its item lists keep
    only that owner's items (the shape stays as documented)."""
    if scope is None:
        return dict(view)
    return {k: _keep(v, scope, owners) if k in ITEM_LISTS and isinstance(v, list) else v for k, v in view.items()}


def _door(view: Mapping[str, Any] | None, location: str, scope: str | None, owners: Owners) -> dict[str, Any]:
    if view is None:
        return {"location": location, "state": "idle", "shipment": None}
    door = {k: v for k, v in view.items() if k not in ITEM_LISTS and not isinstance(v, list | dict)}
    for name in ITEM_LISTS:
        if name in view:
            items = list(view[name] or ())
            door[name] = _keep(items, scope, owners)
            door[f"{name}_count"] = len(items) if scope is None else len(door[name])
    return door


def _events(
    recent: Iterable[Mapping[str, Any]], location: str, scope: str | None, owners: Owners
) -> list[dict[str, Any]]:
    """The last events at ``location``, newest first."""
    shown: list[dict[str, Any]] = []
    for payload in reversed(tuple(recent)):
        if payload.get("location") != location:
            continue
        tagged = bool(payload.get("epc") or payload.get("uri"))
        owner = payload.get("owner")
        if scope is not None and owner != scope and (tagged or owner is not None):
            continue  # another owner's (a tag, or a report about their goods)
        event = {k: payload[k] for k in _EVENT_FIELDS if k in payload}
        for name in ITEM_LISTS:
            items = payload.get(name)
            if isinstance(items, list) and (scope is None or not tagged):
                event[name] = _keep(items, scope, owners)
        shown.append(event)
        if len(shown) >= EVENTS_SHOWN:
            break
    return shown


def _readers(snapshot: GatewaySnapshot, location: str) -> list[dict[str, Any]]:
    """The readers with a read point at ``location`` (all of them when none is known yet), each with its
    antennas' reads and read rates."""
    here = {p.reader for p in snapshot.read_points if p.location == location}
    names = [n for n in snapshot.readers if not here or n in here] + sorted(here - set(snapshot.readers))
    shown = []
    for name in names:
        status = snapshot.readers.get(name, {})
        found = status.get("antennas")
        states: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        antennas = [
            {"antenna": p.antenna, "reads": p.reads, "rate": round(p.rate, 1), "state": states.get(str(p.antenna))}
            for p in sorted(snapshot.read_points, key=lambda p: p.antenna)
            if p.reader == name and p.location in (location, None)
        ]
        shown.append(
            {
                "name": name,
                "state": status.get("state", "unknown"),
                "detail": status.get("detail", ""),
                "since": status.get("since"),
                "antennas": antennas,
            }
        )
    return shown


def _reports(reports: Iterable[Mapping[str, Any]], location: str, scope: str | None) -> list[dict[str, Any]]:
    """The latest report rows of ``location`` (the scope's own only), flattened one level to scalars."""
    rows = []
    for report in reports:
        if report.get("location") not in (location, None) or (scope is not None and report.get("owner") != scope):
            continue
        row: dict[str, Any] = {}
        for key, value in report.items():
            if isinstance(value, Mapping):
                row.update({f"{key}.{k}": v for k, v in value.items() if not isinstance(v, list | Mapping)})
            elif not isinstance(value, list):
                row[key] = value
        rows.append(row)
    return rows
