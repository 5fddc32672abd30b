"""The door board's routes over real HTTP (a real ApiServer on port 0, a snapshot the test replaces as the
main loop would): the pages and their redirect to the login, the assets, the JSON, and the server-sent
event stream (the board at once, again on a change, keepalives)."""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from gateway.api import board
from gateway.api.server import ApiServer
from gateway.config.service import ApiSettings, ApiToken
from gateway.config.transparency import OwnerSettings
from gateway.shipments.commands import CommandPort
from simulators.llrp.epc import sgtin96
from tests.unit.test_api import _check_against_openapi
from tests.unit.test_board_view import ACME as ACME_TAGS
from tests.unit.test_board_view import GLOBEX, _event, _snapshot

pytestmark = pytest.mark.timeout(30)

VIEWER, ACME = "board-view-1f3a", "board-acme-9c2e"
ACME_NEW = sgtin96("0614141", "812345", 77)  # arrives during the test


class Server:
    def __init__(self, tmp_path: Path) -> None:
        tokens = []
        for name, secret, owner in (("wall", VIEWER, None), ("acme-portal", ACME, "acme")):
            (tmp_path / f"{name}.token").write_text(secret)
            (tmp_path / f"{name}.token").chmod(0o600)
            tokens.append(ApiToken(name=name, file=tmp_path / f"{name}.token", role="viewer", owner=owner))
        self.snapshot = _snapshot(taken=time.time())
        owners = [OwnerSettings(name="acme", company_prefixes=["0614141"])]
        owners.append(OwnerSettings(name="globex", company_prefixes=["0614142"]))
        self.api = ApiServer(
            "127.0.0.1",
            0,
            lambda: self.snapshot,
            lambda: b"",
            CommandPort(),
            ApiSettings(tokens=tokens),
            CollectorRegistry(),
            owners,
        )
        self.api.start()

    def get(self, path: str, token: str | None = None) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection("127.0.0.1", self.api.port, timeout=5)
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        return connection.getresponse()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path)
    yield running
    running.api.stop()


def _messages(response: http.client.HTTPResponse) -> Iterator[tuple[str, float]]:
    """Each SSE block (lines up to a blank line) and when it came."""
    lines: list[str] = []
    while True:
        line = response.readline().decode()
        if not line:
            return
        if line.strip():
            lines.append(line.rstrip("\n"))
        elif lines:
            yield "\n".join(lines), time.monotonic()
            lines = []


def _board(block: str) -> dict[str, Any]:
    event, data = block.split("\n", 1)
    assert event == "event: board" and data.startswith("data: ")
    doc: dict[str, Any] = json.loads(data[len("data: ") :])
    return doc


def test_pages_redirect_to_the_login_without_a_session(server: Server) -> None:
    for path in ("/", "/doors/dock-3"):
        response = server.get(path)
        assert (response.status, response.getheader("Location")) == (303, f"/login?next={path}")
        response = server.get(path, VIEWER)
        assert response.status == 200 and response.getheader("Content-Type", "").startswith("text/html")
        assert "default-src 'self'" in response.getheader("Content-Security-Policy", "")
        assert b'src="/static/board.js"' in response.read()
    assert server.get("/doors/dock-9", VIEWER).status == 404
    for asset, kind in (("board.js", "text/javascript"), ("board.css", "text/css")):
        response = server.get(f"/static/{asset}")
        assert response.status == 200 and response.getheader("Content-Type", "").startswith(kind)
    assert server.get("/api/v1/board/dock-3/stream").status == 401
    assert server.get("/api/v1/board/dock-9/stream", VIEWER).status == 404


def test_the_json_validates_and_an_owner_sees_only_its_own(server: Server) -> None:
    for path in ("/api/v1/board", "/api/v1/board/dock-3"):
        response = server.get(path, VIEWER)
        _check_against_openapi("GET", path, response.status, json.loads(response.read()))
    doors = json.loads(server.get("/api/v1/board", VIEWER).read())["doors"]
    assert doors == [
        {"location": "dock-3", "state": "exception"},
        {"location": "dock-4", "state": "idle"},
        {"location": "dock-5", "state": "idle"},
    ]
    raw = server.get("/api/v1/board/dock-3", ACME).read().decode()
    assert json.loads(raw)["owner"] == "acme"
    assert not [epc for epc in GLOBEX if epc in raw]
    assert server.get("/api/v1/board/dock-3", "wrong").status == 401


def test_the_stream_sends_the_board_at_once_then_each_change(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(board, "KEEPALIVE_S", 0.6)
    response = server.get("/api/v1/board/dock-3/stream", ACME)
    assert response.status == 200 and response.getheader("Content-Type", "").startswith("text/event-stream")
    messages = _messages(response)
    try:
        assert next(messages)[0] == f"retry: {board.RETRY_MS}"
        first = _board(next(messages)[0])
        assert first["owner"] == "acme" and [e["seq"] for e in first["events"]] == [8, 6, 5, 1]
        assert next(messages)[0] == ": keepalive"  # nothing changed for KEEPALIVE_S

        changed = time.monotonic()
        events = (*server.snapshot.recent_events, _event(9, "arrived", ACME_NEW, "acme"))
        server.snapshot = replace(server.snapshot, recent_events=events)
        block, came = next(messages)
        assert came - changed < 0.5, "a change is sent within a poll or two"
        assert _board(block)["events"][0]["seq"] == 9

        other = (*events, _event(10, "arrived", GLOBEX[1], "globex"))
        server.snapshot = replace(server.snapshot, recent_events=other)  # not acme's: nothing new to send
        assert next(messages)[0] == ": keepalive"
    finally:
        response.close()


def test_present_by_owner_for_an_unscoped_token_and_its_refusals(server: Server) -> None:
    def tags(path: str, token: str) -> tuple[int, list[str]]:
        response = server.get(path, token)
        doc = json.loads(response.read())
        return response.status, [t["epc"] for t in doc.get("tags", [])]

    status, everyone = tags("/api/v1/locations/dock-3/present", VIEWER)
    assert status == 200 and set(everyone) == {*ACME_TAGS[:2], *GLOBEX[:2]}
    assert tags("/api/v1/locations/dock-3/present?owner=globex", VIEWER) == (200, GLOBEX[:2])
    assert tags("/api/v1/locations/dock-3/present?owner=acme", ACME) == (200, ACME_TAGS[:2])
    assert server.get("/api/v1/locations/dock-3/present?owner=globex", ACME).status == 403
    for path in ("/api/v1/locations/dock-3/present?owner=initech", "/api/v1/locations/dock-9/present"):
        response = server.get(path, VIEWER)
        assert response.status == 404, path
        assert json.loads(response.read())["field"] in ("owner", "name")
    assert server.get("/api/v1/locations/dock-3/present?owner=globex").status == 401


def test_the_assets_name_no_other_host() -> None:
    """The edge box may be offline: no CDN, web font or script from anywhere but the gateway itself."""
    static = Path(board.__file__).parent / "static"
    assets = sorted(static.iterdir())
    assert {a.name for a in assets} >= {"board.html", "board.js", "board.css", "login.html"}
    for asset in assets:
        body = asset.read_text()
        for pattern in (r"\b(?:https?|wss?|ftp):", r"""["'(=\s]//[\w.-]""", r"@import", r"@font-face"):
            assert not re.search(pattern, body), f"{asset.name}: {pattern}"
        for link in re.findall(r"""(?:src|href|action)\s*=\s*["']([^"']*)""", body):
            assert link.startswith("/") and not link.startswith("//"), f"{asset.name}: {link}"
