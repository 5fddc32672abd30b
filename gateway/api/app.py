"""The FastAPI app: /metrics, /healthz, /readyz as before, and /api/v1 on shipments and doors.

GETs read only the snapshot the main loop publishes; writes go through the ``CommandPort`` and wait for
the main loop's ``Reply``. Every refusal has one JSON shape (``result: refused``, ``reason``, maybe
``field``), is logged without headers and counted in ``dockgate_api_requests_total``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import ValidationError

from gateway.api import board, reports, session, views
from gateway.api.auth import Holder, identify
from gateway.api.board_view import scoped
from gateway.api.context import Api, Refusal
from gateway.domain.log import get_logger
from gateway.shipments.commands import Action, Command, Reply
from gateway.shipments.order import ShipmentOrder

log = get_logger(__name__)

HEALTHY_TICK_S = 10.0  # /healthz fails when the main loop has not turned for this long
MAX_BODY = 8 * 1024 * 1024
_TEXT = "text/plain; charset=utf-8"


def create_app(api: Api) -> FastAPI:
    app = FastAPI(title="dockgate", docs_url=None, redoc_url=None, openapi_url=None)
    snapshot, metrics, commands, requests = api.snapshot, api.metrics, api.commands, api.requests

    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        requests.labels(route=path, status=str(response.status_code)).inc()
        if response.status_code >= 400 and path.startswith("/api/"):
            log.warning("api_refused", status=response.status_code, method=request.method, path=request.url.path)
        return response

    @app.exception_handler(Refusal)
    async def on_refusal(_request: Request, exc: Refusal) -> Response:
        body: dict[str, Any] = {"result": "refused", "reason": exc.reason}
        if exc.field is not None:
            body["field"] = exc.field
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(body, exc.status, headers)

    def caller(request: Request, write: bool) -> Holder:
        return api.caller(request, write)

    async def submit(action: Action, shipment_id: str, holder: Holder, order: ShipmentOrder | None = None) -> Response:
        command = Command(action, shipment_id, order, "http", holder.name)
        reply: Reply = await run_in_threadpool(commands.submit, command)
        return JSONResponse(reply.to_json(action, shipment_id), reply.status)

    @app.get("/metrics")
    def get_metrics(request: Request) -> Response:
        # Open on a loopback listener only: on another address, who may scrape is who holds a token (any role).
        if not api.local_only and identify(api.holders, request.headers.get("authorization")) is None:
            raise Refusal(401, "/metrics on a non-local address needs a bearer token (api.tokens)")
        return Response(metrics(), 200, media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> Response:
        age = time.time() - snapshot().taken
        ok = age < HEALTHY_TICK_S
        return Response(
            f"{'ok' if ok else 'stalled'}: main loop turned {age:.1f}s ago\n", 200 if ok else 503, media_type=_TEXT
        )

    @app.get("/readyz")
    def readyz() -> Response:
        problems = snapshot().readiness_problems()
        body = "ready\n" if not problems else "not ready: " + "; ".join(problems) + "\n"
        return Response(body, 200 if not problems else 503, media_type=_TEXT)

    @app.post("/api/v1/shipments")
    async def post_shipment(request: Request) -> Response:
        holder = caller(request, write=True)
        order = _order(await _body(request))
        return await submit("post", order.id, holder, order)

    @app.get("/api/v1/shipments")
    def list_shipments(request: Request, state: str | None = None, location: str | None = None) -> Any:
        scope = caller(request, write=False).owner
        views = snapshot().shipments.values()
        return [
            scoped(v, scope, api.owners)
            for v in views
            if (state is None or v.get("state") == state) and (location is None or v.get("location") == location)
        ]

    @app.get("/api/v1/shipments/{shipment_id}")
    def get_shipment(request: Request, shipment_id: str) -> Any:
        scope = caller(request, write=False).owner
        view = snapshot().shipments.get(shipment_id)
        if view is None:
            raise Refusal(404, f"no shipment {shipment_id!r}", "id")
        return scoped(view, scope, api.owners)

    @app.delete("/api/v1/shipments/{shipment_id}")
    async def cancel_shipment(request: Request, shipment_id: str) -> Response:
        return await submit("cancel", shipment_id, caller(request, write=True))

    @app.post("/api/v1/shipments/{shipment_id}/close")
    async def close_shipment(request: Request, shipment_id: str) -> Response:
        return await submit("close", shipment_id, caller(request, write=True))

    @app.post("/api/v1/shipments/{shipment_id}/acknowledge")
    async def acknowledge_shipment(request: Request, shipment_id: str) -> Response:
        return await submit("acknowledge", shipment_id, caller(request, write=True))

    @app.get("/api/v1/doors/{location}")
    def get_door(request: Request, location: str) -> Any:
        scope = caller(request, write=False).owner
        view = snapshot().doors.get(location)
        if view is None:
            raise Refusal(404, f"no door at location {location!r}", "location")
        return scoped(view, scope, api.owners)

    views.install(app, api)  # present lists, reports
    reports.install(app, api)  # GET /api/v1/reports
    board.install(app, api)  # the door board: pages, JSON, live stream
    session.install(app, api)  # /login, /logout, one-time login links
    return app


async def _body(request: Request) -> bytes:
    """The request body, refused (413) beyond ``MAX_BODY`` before it is all read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise Refusal(413, f"body of {declared} bytes exceeds {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Refusal(413, f"body exceeds {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _order(body: bytes) -> ShipmentOrder:
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refusal(422, f"body is not JSON: {exc}", "body") from None
    try:
        return ShipmentOrder.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise Refusal(422, f"{where}: {first['msg']}", where) from None
