"""What every route of the HTTP API shares: the snapshot, the command port, the holders of tokens, and
``caller``, which says who is asking (or refuses). Route modules (``gateway.api.app``, ``.views``,
``.board``, ``.session``) each ``install(app, api)`` their routes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request
from prometheus_client import Counter

from gateway.api.auth import Holder, identify
from gateway.core.owners import Owners
from gateway.ops.snapshot import GatewaySnapshot
from gateway.shipments.commands import CommandPort


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

    def caller(self, request: Request, write: bool) -> Holder:
        """The holder of the request's token (``Authorization: Bearer``), or a Refusal (401, 403, 503)."""
        if not self.holders:
            raise Refusal(503, "no API tokens configured (api.tokens)")
        holder = identify(self.holders, request.headers.get("authorization"))
        if holder is None:
            raise Refusal(401, "missing or unknown bearer token (Authorization: Bearer <token>)")
        if write and holder.role != "operator":
            raise Refusal(403, f"token {holder.name!r} is a viewer; writes need an operator token")
        return holder
