"""Browser sessions for the door board: ``GET``/``POST /login`` (a token in, a cookie out), ``/logout``, and
one-time login links (``GET /login/once/{code}``, minted by ``Api.mint_once``; the demo prints one).

The cookie (``dockgate_session``: HttpOnly, SameSite=Strict, Path=/, Secure over HTTPS) carries a signed,
stateless session (``gateway.api.auth.sign_session``): it outlives a restart of the gateway and opens reads
only (``Api.caller``). Failed logins are limited per client address (``MAX_FAILURES`` a minute, then 429), so
a token cannot be guessed; neither a token, a code nor a cookie is ever logged.

Threading: the routes here are ``async``, so the failure counts are touched by uvicorn's event loop alone.
"""

from __future__ import annotations

import html
import secrets
from collections import deque
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse

from gateway.api.auth import SESSION_COOKIE, Holder, identify, sign_session
from gateway.api.context import Api
from gateway.domain.log import get_logger

log = get_logger(__name__)

MAX_FAILURES = 10  # failed logins per client address within WINDOW_S, then 429
WINDOW_S = 60.0
MAX_ADDRESSES = 4096  # addresses remembered at most (oldest forgotten first)
MAX_FORM = 4096  # bytes of a login form
# The page's own inline style and nothing else: no script, no other origin, posts to itself, never framed.
_POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


class Failures:
    """Failed logins per client address within the last ``window`` seconds."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = WINDOW_S) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._seen.get(address, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, address: str, now: float) -> float:
        """Seconds until ``address`` may try again; 0: it may now."""
        times = self._recent(address, now)
        return times[0] + self.window - now if len(times) >= self.limit else 0.0

    def add(self, address: str, now: float) -> int:
        """Count a failure; how many ``address`` has within the window."""
        times = self._recent(address, now)
        times.append(now)
        self._seen.pop(address, None)
        self._seen[address] = times  # last failed goes last: the oldest are forgotten first
        while len(self._seen) > MAX_ADDRESSES:
            del self._seen[next(iter(self._seen))]
        return len(times)


def local_path(target: str | None) -> str:
    """``target`` if it is a path on this server (``/door/dock-3``), else ``/``: no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def login_page(error: str = "", next_path: str = "/", status: int = 200) -> HTMLResponse:
    page = resources.files("gateway.api").joinpath("static/login.html").read_text(encoding="utf-8")
    page = page.replace("{{next}}", html.escape(local_path(next_path))).replace("{{error}}", html.escape(error))
    headers = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Content-Security-Policy": _POLICY}
    return HTMLResponse(page, status, headers)


def login_link(app: FastAPI, holder_name: str) -> str:
    """The path of a one-time login link for ``holder_name`` on ``app`` (``/login/once/CODE``)."""
    api: Api = app.state.api
    return f"/login/once/{api.mint_once(holder_name)}"


def _cookie(value: str, max_age: int, secure: bool) -> str:
    attributes = f"{SESSION_COOKIE}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict"
    return attributes + ("; Secure" if secure else "")


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _form(request: Request) -> dict[str, str]:
    """The form-encoded body's first value per field; empty if it is too large or not a form."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM:
            return {}
        chunks.append(chunk)
    try:
        fields = parse_qs(b"".join(chunks).decode(), keep_blank_values=True, max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {key: values[0] for key, values in fields.items()}


def install(app: FastAPI, api: Api) -> None:
    app.state.api = api  # login_link finds it here
    failures = Failures()

    def signed_in(request: Request, holder: Holder, target: str) -> Response:
        now = api.clock()
        expiry = int(now + api.session_ttl)
        value = sign_session(holder, expiry, secrets.token_urlsafe(16))
        headers = {"Location": target, "Cache-Control": "no-store"}
        response = Response(status_code=303, headers=headers)
        response.headers["Set-Cookie"] = _cookie(value, expiry - int(now), request.url.scheme == "https")
        log.info("login", holder=holder.name, client=_address(request), expires_s=expiry - int(now))
        return response

    def too_many(request: Request, next_path: str) -> Response | None:
        wait = failures.retry_after(_address(request), api.clock())
        if not wait:
            return None
        page = login_page(f"too many failed logins from this address; try again in {wait:.0f} s", next_path, 429)
        page.headers["Retry-After"] = str(max(1, round(wait)))
        return page

    def refused(request: Request, why: str, error: str, next_path: str) -> Response:
        count = failures.add(_address(request), api.clock())
        log.warning("login_refused", client=_address(request), reason=why, failures=count, window_s=WINDOW_S)
        return login_page(error, next_path, 401)

    @app.get("/login")
    async def get_login(next_path: str = Query("/", alias="next")) -> Response:
        return login_page("", next_path)

    @app.post("/login")
    async def post_login(request: Request) -> Response:
        form = await _form(request)
        target = local_path(form.get("next"))
        if not api.holders:
            return login_page("no API tokens configured (api.tokens)", target, 503)
        blocked = too_many(request, target)
        if blocked is not None:
            return blocked
        holder = identify(api.holders, f"Bearer {form.get('token', '')}")
        if holder is None:
            return refused(request, "unknown token", "unknown token", target)
        return signed_in(request, holder, target)

    @app.get("/login/once/{code}")
    async def login_once(request: Request, code: str) -> Response:
        blocked = too_many(request, "/")
        if blocked is not None:
            return blocked
        holder = api.redeem_once(code)
        if holder is None:
            error = "this login link was used already or has expired; enter a token"
            return refused(request, "unknown or used login link", error, "/")
        return signed_in(request, holder, "/")

    async def logout(request: Request) -> Response:
        if api.revoke(request.cookies.get(SESSION_COOKIE)):
            log.info("logout", client=_address(request))
        response = Response(status_code=303, headers={"Location": "/login", "Cache-Control": "no-store"})
        response.headers["Set-Cookie"] = _cookie("", 0, request.url.scheme == "https")
        return response

    app.add_api_route("/logout", logout, methods=["GET", "POST"])
