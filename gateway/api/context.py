"""What every route of the HTTP API shares: the snapshot, the command port, the holders of tokens, and
``caller``, which says who is asking (or refuses). Route modules (``gateway.api.app``, ``.views``,
``.board``, ``.session``) each ``install(app, api)`` their routes."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from prometheus_client import Counter

from gateway.api.auth import SESSION_COOKIE, Holder, identify, load_revoked, save_revoked, session_of
from gateway.core.owners import Owners
from gateway.ops.snapshot import GatewaySnapshot
from gateway.shipments.commands import CommandPort

ONCE_TTL_S = 600.0  # a one-time login link works within 10 minutes


class Refusal(Exception):
    """Answered as ``{"result": "refused", "reason": ..., "field": ...}`` with ``status``."""

    def __init__(self, status: int, reason: str, field_name: str | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.field = status, reason, field_name


@dataclass
class Api:
    snapshot: Callable[[], GatewaySnapshot]
    metrics: Callable[[], bytes]
    commands: CommandPort
    holders: tuple[Holder, ...]
    requests: Counter
    owners: Owners = field(default_factory=lambda: Owners(()))  # the API thread's own (its cache is its own)
    local_only: bool = True  # the listener is bound to a loopback address: /metrics needs no token
    extra: dict[str, object] = field(default_factory=dict)
    session_ttl: float = 12 * 3600.0  # api.session_ttl: how long a browser session lasts
    clock: Callable[[], float] = time.time  # wall clock: session expiries are Unix seconds, across restarts
    # Revoked session nonces (until the session's expiry), also in ``revocations`` if set (an owner-only file
    # beside the outbox: a logout holds across restarts; without it, until the restart); one-time login codes.
    revocations: Path | None = None
    revoked: dict[str, float] = field(default_factory=dict, repr=False)
    once: dict[str, tuple[str, float]] = field(default_factory=dict, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # API threads and the demo's

    def __post_init__(self) -> None:
        self.revoked.update(load_revoked(self.revocations, self.clock()))

    def caller(self, request: Request, write: bool) -> Holder:
        """The holder of the request's token (``Authorization: Bearer``) or, for a read, of its session
        cookie (``POST /login``); or a Refusal (401, 403, 503)."""
        if not self.holders:
            raise Refusal(503, "no API tokens configured (api.tokens)")
        authorization = request.headers.get("authorization")
        holder = identify(self.holders, authorization)
        if holder is None and authorization is None and SESSION_COOKIE in request.cookies:
            # A browser sends its cookie with every request to this origin, also one another page triggers:
            # so the cookie opens reads only, and a write needs the header a page cannot add (no CSRF).
            if write:
                raise Refusal(401, "writes need the bearer token (Authorization: Bearer <token>), not a session")
            holder = self.session_holder(request.cookies[SESSION_COOKIE])
        if holder is None:
            raise Refusal(401, "missing or unknown bearer token (Authorization: Bearer <token>) or session")
        if write and holder.role != "operator":
            raise Refusal(403, f"token {holder.name!r} is a viewer; writes need an operator token")
        return holder

    def session_holder(self, value: str | None) -> Holder | None:
        """The holder of a genuine, unexpired, unrevoked session cookie value, or None."""
        found = session_of(self.holders, value, self.clock())
        if found is None or found[1] in self.revoked:
            return None
        return found[0]

    def revoke(self, value: str | None) -> bool:
        """End the session of a cookie value (logout); False if it was no live session."""
        now = self.clock()
        found = session_of(self.holders, value, now)
        if found is None:
            return False
        with self.lock:
            for nonce in [n for n, until in self.revoked.items() if until <= now]:
                del self.revoked[nonce]  # expired anyway
            self.revoked[found[1]] = found[2]
            if self.revocations is not None:
                save_revoked(self.revocations, dict(self.revoked))
        return True

    def mint_once(self, holder_name: str) -> str:
        """A one-time login code for a configured holder (``GET /login/once/{code}``), valid for 10 minutes."""
        if not any(h.name == holder_name for h in self.holders):
            raise ValueError(f"no API token named {holder_name!r} (api.tokens)")
        code = secrets.token_urlsafe(32)
        now = self.clock()
        with self.lock:
            for old in [c for c, (_n, until) in self.once.items() if until <= now]:
                del self.once[old]
            self.once[code] = (holder_name, now + ONCE_TTL_S)
        return code

    def redeem_once(self, code: str) -> Holder | None:
        """The holder a one-time code was minted for, once; None for an unknown, used or expired code."""
        with self.lock:
            minted = self.once.pop(code, None)
        if minted is None or minted[1] <= self.clock():
            return None
        return next((h for h in self.holders if h.name == minted[0]), None)
