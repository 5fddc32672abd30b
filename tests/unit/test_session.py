"""Browser sessions, one-time login links and /metrics access, over real HTTP: a real ApiServer on port 0, a
fake snapshot, and a thread playing the main loop."""

from __future__ import annotations

import http.client
import json
import logging
import re
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from gateway.api.auth import SESSION_COOKIE, revocations_beside, sign_session
from gateway.api.context import Api
from gateway.api.server import ApiServer
from gateway.api.session import MAX_FAILURES, local_path, login_link
from gateway.config.service import ApiSettings, ApiToken
from gateway.ops.snapshot import GatewaySnapshot, OutboxFigures
from gateway.shipments.commands import CommandPort, Reply
from tests.tlsutil import make_pki

pytestmark = pytest.mark.timeout(30)

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
OPERATOR, VIEWER = "op-secret-71d0a2", "view-secret-c38e55"
DOOR = {"location": "dock-1", "state": "idle", "shipment": None}
SNAPSHOT = GatewaySnapshot(
    gateway="gw-1", taken=time.time() + 3600, started=True, outbox=OutboxFigures(is_open=True), doors={"dock-1": DOOR}
)
ORDER = json.dumps({"id": "S-9", "location": "dock-1", "direction": "out", "items": ["3034257BF7194E4000000001"]})


class MainLoop:
    """Plays the gateway's main loop: answers every command as accepted."""

    def __init__(self, port: CommandPort) -> None:
        self.port, self.received = port, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-main-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            for pending in self.port.take():
                self.received += 1
                pending.answer(Reply(True, 201, shipment={"id": pending.command.shipment_id, "state": "open"}))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    @property
    def cookie(self) -> str | None:
        """The session value this answer sets (empty: it clears the cookie), or None."""
        for header in self.headers.get_all("Set-Cookie") or []:
            if header.startswith(f"{SESSION_COOKIE}="):
                return header.split(";", 1)[0].split("=", 1)[1]
        return None


class Running:
    def __init__(self, server: ApiServer, loop: MainLoop) -> None:
        self.server, self.loop = server, loop
        self.api: Api = server.app.state.api

    def call(
        self, method: str, path: str, body: str | None = None, source: str = "127.0.0.1", **headers: str
    ) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10, source_address=(source, 0))
        try:
            connection.request(method, path, body, {k.replace("_", "-"): v for k, v in headers.items()})
            response = connection.getresponse()
            return Answer(response.status, response.headers, response.read())
        finally:
            connection.close()

    def login(self, token: str, next_path: str = "/", source: str = "127.0.0.1") -> Answer:
        form = urlencode({"token": token, "next": next_path})
        return self.call("POST", "/login", form, source, Content_Type="application/x-www-form-urlencoded")

    def get(self, path: str, cookie: str | None = None, token: str | None = None) -> Answer:
        headers = {} if cookie is None else {"Cookie": f"{SESSION_COOKIE}={cookie}"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.call("GET", path, **headers)

    def stop(self) -> None:
        self.server.stop()
        self.loop.stop()


def _settings(tmp_path: Path, **more: Any) -> ApiSettings:
    for name, secret in (("op.token", OPERATOR), ("view.token", VIEWER)):
        (tmp_path / name).write_text(secret + "\n")
        (tmp_path / name).chmod(0o600)
    tokens = [
        ApiToken(name="backoffice", file=tmp_path / "op.token", role="operator"),
        ApiToken(name="wall.board-1", file=tmp_path / "view.token", role="viewer"),  # a dot in the name
    ]
    return ApiSettings(tokens=tokens, **more)


def _start(settings: ApiSettings, host: str = "127.0.0.1", revocations: Path | None = None) -> Running:
    port = CommandPort()
    registry = CollectorRegistry()
    server = ApiServer(
        host, 0, lambda: SNAPSHOT, lambda: generate_latest(registry), port, settings, registry, revocations=revocations
    )
    server.start()
    return Running(server, MainLoop(port))


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Running]:
    running = _start(_settings(tmp_path))
    yield running
    running.stop()


def _documented(method: str, template: str, status: int, content: str) -> None:
    """docs/openapi.yaml documents this answer, with this content type (none for a redirect)."""
    doc = yaml.safe_load(OPENAPI.read_text())
    response = doc["paths"][template][method.lower()]["responses"][str(status)]
    if "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    assert (content in response["content"]) if content else ("content" not in response), f"{method} {template}"


# ---- login -----------------------------------------------------------------------------------------------


def test_login_page_is_self_contained(api: Running) -> None:
    answer = api.get("/login?next=/door/dock-1")
    page = answer.body.decode()
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/html")
    for needle in ('<form method="post" action="/login">', 'id="token" name="token" type="password"', 'id="login"'):
        assert needle in page
    assert 'id="error"' in page and 'name="next" type="hidden" value="/door/dock-1"' in page
    assert not re.search(r"(src|href)=\"?(https?:)?//", page), "no external assets"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    _documented("GET", "/login", 200, "text/html")


def test_login_sets_an_httponly_strict_cookie_that_opens_reads(api: Running) -> None:
    answer = api.login(VIEWER, "/door/dock-1")
    assert answer.status == 303 and answer.headers["location"] == "/door/dock-1"
    (set_cookie,) = answer.headers.get_all("Set-Cookie") or []
    attributes = [a.strip() for a in set_cookie.split(";")]
    assert {"HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"} <= set(attributes), set_cookie
    assert "Secure" not in attributes  # plain HTTP here; see test_cookie_is_secure_over_https
    assert VIEWER not in set_cookie and answer.cookie and answer.cookie.startswith("wall.board-1.")
    door = api.get("/api/v1/doors/dock-1", answer.cookie)
    assert door.status == 200 and json.loads(door.body) == DOOR
    assert api.get("/api/v1/shipments", answer.cookie).status == 200
    _documented("POST", "/login", 303, "")


def test_the_cookie_never_opens_writes(api: Running) -> None:
    cookie = api.login(OPERATOR).cookie
    assert cookie
    jar = {"Cookie": f"{SESSION_COOKIE}={cookie}", "Content_Type": "application/json"}
    for method, path in (("POST", "/api/v1/shipments"), ("DELETE", "/api/v1/shipments/S-1")):
        answer = api.call(method, path, ORDER if method == "POST" else None, **jar)
        assert answer.status == 401 and "not a session" in json.loads(answer.body)["reason"]
    assert api.loop.received == 0
    bearer = api.call("POST", "/api/v1/shipments", ORDER, Authorization=f"Bearer {OPERATOR}", **jar)
    assert bearer.status == 201 and api.loop.received == 1


def test_wrong_token_is_401_logged_without_it_and_rate_limited(api: Running, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    answer = api.login(VIEWER + "x")
    assert answer.status == 401 and answer.cookie is None
    assert re.search(r'id="error"[^>]*>unknown token<', answer.body.decode())
    _documented("POST", "/login", 401, "text/html")
    assert "login_refused" in caplog.text and "failures=1" in caplog.text
    for _ in range(MAX_FAILURES - 1):
        assert api.login("guess").status == 401
    limited = api.login(VIEWER)  # even the right token: the address is locked out for a minute
    assert limited.status == 429 and limited.cookie is None and int(limited.headers["retry-after"]) >= 1
    _documented("POST", "/login", 429, "text/html")
    assert api.login(VIEWER, source="127.0.0.2").status == 303  # per client address
    for secret in (VIEWER, OPERATOR, "guess"):
        assert secret not in caplog.text
    later = api.api.clock
    api.api.clock = lambda: later() + 61
    assert api.login(VIEWER).status == 303  # the failures aged out


def test_logout_revokes_the_session(api: Running) -> None:
    cookie = api.login(VIEWER).cookie
    other = api.login(VIEWER).cookie
    assert cookie and other and cookie != other
    answer = api.get("/logout", cookie)
    assert answer.status == 303 and answer.headers["location"] == "/login" and answer.cookie == ""
    assert "Max-Age=0" in (answer.headers["set-cookie"] or "")
    assert api.get("/api/v1/doors/dock-1", cookie).status == 401
    assert api.get("/api/v1/doors/dock-1", other).status == 200  # only that session ended
    posted = api.call("POST", "/logout", "", Cookie=f"{SESSION_COOKIE}={other}")
    assert posted.status == 303 and api.get("/api/v1/doors/dock-1", other).status == 401


def test_tampered_forged_or_expired_cookies_are_refused(api: Running) -> None:
    cookie = api.login(VIEWER).cookie
    assert cookie
    name, expiry, nonce, mac = cookie.rsplit(".", 3)
    viewer, operator = api.api.holders[1], api.api.holders[0]
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    for bad in (
        f"{name}.{expiry}.{nonce}.{flipped}",
        f"{name}.{int(expiry) + 3600}.{nonce}.{mac}",  # a longer life
        f"backoffice.{expiry}.{nonce}.{mac}",  # another holder
        sign_session(viewer, int(time.time()) - 1, "n0nce"),  # expired, though genuinely signed
        sign_session(operator.__class__("wall.board-1", "viewer", b"not-the-token"), int(expiry), nonce),
        "garbage",
        "",
    ):
        answer = api.get("/api/v1/doors/dock-1", bad)
        assert answer.status == 401, bad
        assert answer.headers["www-authenticate"] == "Bearer"
    assert api.get("/api/v1/doors/dock-1", sign_session(operator, int(time.time()) + 60, "x")).status == 200


def test_a_session_survives_a_restart_but_not_a_new_token(tmp_path: Path) -> None:
    settings = _settings(tmp_path, session_ttl="2h")
    first = _start(settings)
    try:
        answer = first.login(VIEWER)
        assert "Max-Age=7200" in (answer.headers["set-cookie"] or "")
        cookie = answer.cookie
    finally:
        first.stop()
    assert cookie
    again = _start(settings)  # the gateway restarted: same token files, nothing else kept
    try:
        assert again.get("/api/v1/doors/dock-1", cookie).status == 200
    finally:
        again.stop()
    (tmp_path / "view.token").write_text("a-new-viewer-token")
    changed = _start(ApiSettings(tokens=settings.tokens, session_ttl=settings.session_ttl))
    try:
        assert changed.get("/api/v1/doors/dock-1", cookie).status == 401  # a new token ends its sessions
    finally:
        changed.stop()


def test_a_logout_holds_across_a_restart_with_a_revocations_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    kept = revocations_beside(tmp_path / "outbox.db")
    first = _start(settings, revocations=kept)
    try:
        cookie, other = first.login(VIEWER).cookie, first.login(VIEWER).cookie
        assert first.get("/logout", cookie).status == 303
    finally:
        first.stop()
    assert kept.name == "outbox.db.revoked-sessions" and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert cookie and other and cookie not in kept.read_text()  # nonces only, never a whole cookie
    again = _start(settings, revocations=kept)
    try:
        assert again.get("/api/v1/doors/dock-1", cookie).status == 401
        assert again.get("/api/v1/doors/dock-1", other).status == 200
    finally:
        again.stop()


def test_an_unreadable_revocations_file_is_warned_and_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    kept = tmp_path / "outbox.db.revoked-sessions"
    kept.write_text("not json")
    running = _start(_settings(tmp_path), revocations=kept)
    try:
        assert "revocations_unreadable" in caplog.text
        cookie = running.login(VIEWER).cookie
        assert running.get("/logout", cookie).status == 303 and json.loads(kept.read_text())  # written anew
    finally:
        running.stop()


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "evil", "/\r\nX: y"],
)
def test_no_open_redirect(api: Running, target: str) -> None:
    answer = api.login(VIEWER, target)
    assert answer.status == 303 and answer.headers["location"] == "/"
    assert 'name="next" type="hidden" value="/"' in api.get("/login?" + urlencode({"next": target})).body.decode()


def test_a_local_path_is_kept() -> None:
    assert local_path("/door/dock-1?at=1") == "/door/dock-1?at=1"
    assert local_path(None) == local_path("") == "/"


# ---- one-time login links ----------------------------------------------------------------------------------


def test_one_time_link_works_once(api: Running) -> None:
    path = login_link(api.server.app, "wall.board-1")
    assert re.fullmatch(r"/login/once/[A-Za-z0-9_-]{43}", path)
    first = api.get(path)
    assert first.status == 303 and first.headers["location"] == "/" and first.cookie
    assert "HttpOnly" in (first.headers["set-cookie"] or "")
    assert api.get("/api/v1/doors/dock-1", first.cookie).status == 200
    second = api.get(path)
    assert second.status == 401 and second.cookie is None and b"used already or has expired" in second.body
    _documented("GET", "/login/once/{code}", 401, "text/html")
    with pytest.raises(ValueError, match="no API token named 'nobody'"):
        login_link(api.server.app, "nobody")


def test_one_time_link_expires_after_ten_minutes(api: Running) -> None:
    path = login_link(api.server.app, "backoffice")
    now = time.time()
    api.api.clock = lambda: now + 601
    assert api.get(path).status == 401


# ---- /metrics ----------------------------------------------------------------------------------------------


def test_metrics_on_a_non_local_bind_need_a_token(tmp_path: Path) -> None:
    running = _start(_settings(tmp_path), host="0.0.0.0")  # local_only comes from the bind address
    try:
        for token in (None, "wrong"):
            answer = running.get("/metrics", token=token)
            assert answer.status == 401 and json.loads(answer.body)["result"] == "refused"
            assert answer.headers["www-authenticate"] == "Bearer"
        _documented("GET", "/metrics", 401, "application/json")
        cookie = running.login(VIEWER).cookie
        assert running.get("/metrics", cookie).status == 401  # a scraper sends a bearer token, not a cookie
        for token in (VIEWER, OPERATOR):  # any role
            answer = running.get("/metrics", token=token)
            assert answer.status == 200 and b"dockgate_api_requests" in answer.body
        assert running.get("/healthz").status == 200 and running.get("/readyz").status == 200
    finally:
        running.stop()


def test_metrics_on_localhost_need_no_token(api: Running) -> None:
    assert api.get("/metrics").status == 200


def test_no_tokens_configured(tmp_path: Path) -> None:
    running = _start(ApiSettings())
    try:
        assert running.login("anything").status == 503
        assert running.get("/api/v1/doors/dock-1", "x.1.y.z").status == 503
    finally:
        running.stop()


def test_cookie_is_secure_over_https(tmp_path: Path) -> None:
    import ssl

    pki = make_pki(tmp_path / "pki")
    settings = _settings(tmp_path, tls_cert=pki.server.cert, tls_key=pki.server.key)
    running = _start(settings)
    try:
        context = ssl.create_default_context(cafile=str(pki.ca.cert))
        connection = http.client.HTTPSConnection("127.0.0.1", running.server.port, timeout=10, context=context)
        form = f"token={VIEWER}&next=/"
        connection.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        assert response.status == 303 and "; Secure" in (response.headers["set-cookie"] or "")
        connection.close()
    finally:
        running.stop()


# ---- the documented Prometheus scrape config -----------------------------------------------------------------


@pytest.mark.e2e  # a child process: end to end, in a file of unit tests
def test_the_documented_scrape_config_passes_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: ./scripts/test installs the Debian package prometheus"
    security = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    match = re.search(r"```yaml[^\n]*\n(# prometheus\.yml\n.*?)```", security, re.DOTALL)
    assert match, "docs/security.md has no prometheus.yml snippet"
    snippet = match.group(1)
    job = yaml.safe_load(snippet)["scrape_configs"][0]
    assert job["authorization"] == {"type": "Bearer", "credentials_file": "/etc/prometheus/dockgate.token"}
    config = tmp_path / "prometheus.yml"
    config.write_text(snippet.replace("/etc/prometheus/", f"{tmp_path}/"))
    checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert checked.returncode == 1 and "dockgate.token" in checked.stdout + checked.stderr  # files are checked
    (tmp_path / "dockgate.token").write_text(VIEWER + "\n")
    (tmp_path / "dockgate-ca.crt").write_bytes(make_pki(tmp_path / "pki").ca.cert.read_bytes())
    checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
