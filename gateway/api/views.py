"""What is here now and the reports, per owner: ``GET /api/v1/locations/{name}/present`` and
``GET /api/v1/reports``. Both read the main loop's snapshot (and, for reports, the report store's own
read-only connection), and show an owner-scoped holder only its owner's tags."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from gateway.api.context import Api, Refusal
from gateway.domain.model import rfc3339
from gateway.ops.snapshot import PresentList


def present_json(gateway: str, present: PresentList, owner: str | None = None) -> dict[str, Any]:
    """The present list as published (``{prefix}/{gateway}/locations/{location}/present``) and served;
    ``owner``: only that owner's tags (``truncated`` then counts only what is known to be theirs)."""
    tags = present.tags if owner is None else tuple(t for t in present.tags if t.owner == owner)
    count = present.count if owner is None else present.owners.get(owner, 0)
    return {
        "gateway": gateway,
        "location": present.location,
        "time": rfc3339(present.taken),
        "owner": owner,
        "count": count,
        "truncated": count - len(tags),
        "owners": dict(present.owners) if owner is None else {owner: count},
        "tags": [
            {
                "epc": t.epc,
                "uri": t.uri,
                "owner": t.owner,
                "since": rfc3339(t.since),
                "last_seen": rfc3339(t.last_seen),
                "antennas": list(t.antennas),
                "reads": t.reads,
                "direction": t.direction,
                "direction_confidence": t.direction_confidence,
                "static": t.static,
            }
            for t in tags
        ],
    }


def install(app: FastAPI, api: Api) -> None:
    @app.get("/api/v1/locations/{name}/present")
    def get_present(request: Request, name: str, owner: str | None = None) -> Any:
        holder = api.caller(request, write=False)
        snapshot = api.snapshot()
        if holder.owner is not None:
            if owner is not None and owner != holder.owner:
                raise Refusal(403, f"token {holder.name!r} sees only owner {holder.owner!r}", "owner")
            owner = holder.owner
        elif owner is not None and owner not in snapshot.owners:
            raise Refusal(404, f"no owner {owner!r} (owners: {', '.join(snapshot.owners)})", "owner")
        present = snapshot.present.get(name)
        if present is None:
            raise Refusal(404, f"no location {name!r}", "name")
        return present_json(snapshot.gateway, present, owner)
