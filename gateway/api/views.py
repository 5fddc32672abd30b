"""What is here now and the reports, per owner: ``GET /api/v1/locations/{name}/present`` and
``GET /api/v1/reports``. Both read the main loop's snapshot (and, for reports, the report store's own
read-only connection), and show an owner-scoped holder only its owner's tags."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from gateway.api.context import Api, Refusal


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
        return present.to_json(snapshot.gateway, owner)
