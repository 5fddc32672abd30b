"""Bearer tokens of the API: read once at start from ``api.tokens[i].file``, compared in constant time; and
the browser session that a token opens (``sign_session``, ``session_of``).

A session value is ``NAME.EXPIRY.NONCE.MAC``: the holder's name, the expiry (Unix seconds), a random nonce,
and an HMAC-SHA256 over the first three keyed by a key derived from that holder's token. It is stateless
(a restarted gateway accepts it), cannot be forged without the token, and ends when the token changes."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gateway.config.service import ApiSettings
from gateway.domain.errors import DockgateError
from gateway.domain.log import get_logger

log = get_logger(__name__)

Role = Literal["viewer", "operator"]
SESSION_COOKIE = "dockgate_session"
_SESSION_KEY_LABEL = b"dockgate browser session v1"


class ApiSetupError(DockgateError):
    """A token file cannot be read; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Holder:
    name: str
    role: Role
    secret: bytes = field(repr=False)  # never logged
    owner: str | None = None  # only this owner's tags, events and reports

    def sees(self, owner: str | None) -> bool:
        """May this holder see what belongs to ``owner`` (None: about no tag, e.g. a door's state)?"""
        return self.owner is None or owner == self.owner


def _path(file: Path) -> Path:
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if not file.is_absolute() and credentials:
        return Path(credentials) / file
    return file


def load_holders(settings: ApiSettings) -> tuple[Holder, ...]:
    holders = []
    for i, token in enumerate(settings.tokens):
        path = _path(token.file)
        where = f"api.tokens[{i}].file"
        try:
            secret = path.read_bytes().strip()
            mode = path.stat().st_mode
        except OSError as exc:
            raise ApiSetupError(f"{where}: cannot read {path}: {exc.strerror}") from None
        if not secret:
            raise ApiSetupError(f"{where}: {path} is empty; write the token into it")
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("token_file_open", setting=where, path=str(path), detail="readable by others: chmod 600")
        holders.append(Holder(token.name, token.role, secret, token.owner))
    return tuple(holders)


def identify(holders: tuple[Holder, ...], authorization: str | None) -> Holder | None:
    """The holder whose token the ``Authorization: Bearer`` header carries, or None."""
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return None
    given = presented.strip().encode()
    found = None
    for holder in holders:  # every token is compared, so the time does not tell which one matched
        if hmac.compare_digest(holder.secret, given):
            found = holder
    return found


def _session_mac(holder: Holder, payload: str) -> bytes:
    key = hmac.new(holder.secret, _SESSION_KEY_LABEL, hashlib.sha256).digest()  # never the token itself
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest().encode()


def sign_session(holder: Holder, expiry: int, nonce: str) -> str:
    """The cookie value of a session of ``holder`` until ``expiry`` (Unix seconds)."""
    payload = f"{holder.name}.{expiry}.{nonce}"
    return f"{payload}.{_session_mac(holder, payload).decode()}"


def session_of(holders: tuple[Holder, ...], value: str | None, now: float) -> tuple[Holder, str, int] | None:
    """``(holder, nonce, expiry)`` of a genuine session value not yet expired, or None (forged, tampered,
    expired, or of a token no longer configured or changed since)."""
    parts = (value or "").rsplit(".", 3)  # a name may hold dots; the other three never do
    if len(parts) != 4 or not parts[1].isdigit() or int(parts[1]) <= now:
        return None
    name, expiry, nonce, mac = parts
    holder = next((h for h in holders if h.name == name), None)
    if holder is None or not nonce:
        return None
    expected = _session_mac(holder, f"{name}.{expiry}.{nonce}")
    if not hmac.compare_digest(expected, mac.encode(errors="replace")):
        return None
    return holder, nonce, int(expiry)


def revocations_beside(outbox: Path) -> Path:
    """Where a gateway keeps its revoked sessions: beside its outbox (``outbox.db.revoked-sessions``)."""
    return outbox.with_name(outbox.name + ".revoked-sessions")


def load_revoked(path: Path | None, now: float) -> dict[str, float]:
    """The revoked session nonces kept in ``path`` (nonce -> the session's expiry), those not yet expired;
    empty when there is no file, and with a warning when it cannot be read."""
    if path is None or not path.exists():
        return {}
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        return {str(n): float(until) for n, until in kept.items() if float(until) > now}
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        log.warning("revocations_unreadable", path=str(path), error=str(exc), detail="logged-out sessions work again")
        return {}


def save_revoked(path: Path, revoked: dict[str, float]) -> None:
    """Write the revoked nonces to ``path`` (owner-only), whole or not at all."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(revoked, file)
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("revocations_not_saved", path=str(path), error=str(exc), detail="kept in memory until restart")
