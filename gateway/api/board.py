"""The door board: ``/`` (the doors), ``/doors/{location}`` (one door's board, for a tablet or a TV at the
door), its JSON (``/api/v1/board/{location}``) and its live updates as server-sent events
(``/api/v1/board/{location}/stream``).

The stream polls the main loop's snapshot every ``POLL_S`` on the event loop (reading the snapshot is
one reference read) and sends the board again when a cheap fingerprint of what matters changed (last
event's seq, the door view, the present list, reader states, broker), and anyway every ``REFRESH_S``
when the board differs (read rates, outbox), so an event reaches the page well within a second. The
assets ship in the package (``gateway/api/static/``): the box may be offline, nothing comes from a CDN.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from importlib.resources import files
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from gateway.api.auth import Holder
from gateway.api.board_view import board, door_state, doors
from gateway.api.context import Api, Refusal
from gateway.domain.log import get_logger
from gateway.ops.snapshot import GatewaySnapshot

log = get_logger(__name__)

POLL_S = 0.2
REFRESH_S = 2.0
KEEPALIVE_S = 15.0
RETRY_MS = 1000  # EventSource waits this long before reconnecting
_ASSETS = {"board.js": "text/javascript; charset=utf-8", "board.css": "text/css; charset=utf-8"}
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
}


def _asset(name: str) -> bytes:
    return (files("gateway.api") / "static" / name).read_bytes()


def fingerprint(snapshot: GatewaySnapshot, location: str) -> tuple[Any, ...]:
    """What, when it changes, makes the board worth sending at once."""
    events = snapshot.recent_events
    present = snapshot.present.get(location)
    return (
        events[-1].get("seq") if events else None,
        snapshot.doors.get(location),
        None if present is None else (present.taken, present.count),
        tuple((name, status.get("state")) for name, status in snapshot.readers.items()),
        snapshot.broker.connected,
    )


def install(app: FastAPI, api: Api) -> None:
    page = _asset("board.html")
    assets = {name: _asset(name) for name in _ASSETS}

    def known(location: str) -> None:
        if location not in doors(api.snapshot()):
            raise Refusal(404, f"no door at location {location!r}", "location")

    def html(request: Request, location: str | None) -> Response:
        try:
            api.caller(request, write=False)
        except Refusal as refusal:
            if refusal.status != 401:
                raise
            return RedirectResponse(f"/login?next={quote(request.url.path, safe='/')}", 303, headers=_HEADERS)
        if location is not None:
            known(location)
        return Response(page, 200, media_type="text/html; charset=utf-8", headers=_HEADERS)

    @app.get("/")
    def get_index(request: Request) -> Response:
        return html(request, None)

    @app.get("/doors/{location}")
    def get_door_page(request: Request, location: str) -> Response:
        return html(request, location)

    @app.get("/static/board.js")
    def get_board_js() -> Response:
        return Response(assets["board.js"], 200, media_type=_ASSETS["board.js"], headers=_HEADERS)

    @app.get("/static/board.css")
    def get_board_css() -> Response:
        return Response(assets["board.css"], 200, media_type=_ASSETS["board.css"], headers=_HEADERS)

    @app.get("/api/v1/board")
    def get_doors(request: Request) -> Any:
        api.caller(request, write=False)
        snapshot = api.snapshot()
        shown = [{"location": loc, "state": door_state(snapshot, loc)} for loc in doors(snapshot)]
        return {"gateway": snapshot.gateway, "doors": shown}

    @app.get("/api/v1/board/{location}")
    def get_board(request: Request, location: str) -> Any:
        holder = api.caller(request, write=False)
        known(location)
        return board(api.snapshot(), location, holder, api.owners)

    @app.get("/api/v1/board/{location}/stream")
    async def stream_board(request: Request, location: str) -> Response:
        holder = api.caller(request, write=False)
        known(location)
        log.info("board_stream_opened", location=location, holder=holder.name)
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(
            _stream(api, request, location, holder), media_type="text/event-stream", headers=headers
        )


async def _stream(api: Api, request: Request, location: str, holder: Holder) -> AsyncIterator[str]:
    sent, seen = "", None
    refreshed = beat = time.monotonic()
    yield f"retry: {RETRY_MS}\n\n"
    try:
        while not await request.is_disconnected():
            snapshot, now = api.snapshot(), time.monotonic()
            mark = fingerprint(snapshot, location)
            if mark != seen or now - refreshed >= REFRESH_S:
                seen, refreshed = mark, now
                text = json.dumps(board(snapshot, location, holder, api.owners), separators=(",", ":"))
                if text != sent:
                    sent, beat = text, now
                    yield f"event: board\ndata: {text}\n\n"
            if now - beat >= KEEPALIVE_S:
                beat = now
                yield ": keepalive\n\n"
            await asyncio.sleep(POLL_S)
    finally:
        log.info("board_stream_closed", location=location, holder=holder.name)
