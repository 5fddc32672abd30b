"""Bearer tokens of the API: read once at start from ``api.tokens[i].file``, compared in constant time."""

from __future__ import annotations

import hmac
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
