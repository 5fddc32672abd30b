"""``Checkpointer``: signs a checkpoint over the newest journal entry every ``journal.checkpoint_entries``
entries or ``journal.checkpoint_every`` seconds (when there are new entries), stores it beside the
entries and publishes it retained on ``{prefix}/{gateway}/journal/checkpoint`` (again after every
reconnect). The key comes from ``journal.key_file``, else ``<outbox>.journal.key``, made owner-only at
the first start so that the journal is on by default. A key file readable by others is refused.

Not thread-safe: the main loop owns it. Costs nothing per event: one comparison per turn, one signature
(about 50 us) per checkpoint.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from gateway.config import Config
from gateway.config.traceability import JournalSettings
from gateway.domain.log import get_logger
from gateway.domain.model import rfc3339
from gateway.journal.checkpoint import sign
from gateway.journal.keys import KeyError_, key_id, keygen, load_private
from gateway.journal.store import JournalStore

log = get_logger(__name__)

_PRUNE_EVERY_S = 3600.0
Publish = Callable[[bytes], None]  # the checkpoint's JSON, retained
Commit = Callable[[Callable[[], None]], None]  # runs the write in one of the outbox's transactions


def key_path(settings: JournalSettings, outbox: Path) -> Path:
    file = settings.key_file
    if file is None:
        return outbox.with_name(outbox.name + ".journal.key")
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    return Path(credentials) / file if not file.is_absolute() and credentials else file


def load_key(settings: JournalSettings, outbox: Path) -> Ed25519PrivateKey:
    """The signing key; made at the first start when none is configured (``KeyError_`` names the file)."""
    path = key_path(settings, outbox)
    if settings.key_file is None and not path.exists():
        try:
            keygen(path)
        except OSError as exc:
            raise KeyError_(f"cannot make the journal key {path}: {exc.strerror} (or set journal.key_file)") from None
        log.warning(
            "journal_key_created", path=str(path), public_key=str(path) + ".pub", detail="give auditors the .pub"
        )
    return load_private(path)


class Checkpointer:
    """``key``: the signing key, or how to get it once the outbox is open (the default key is made beside
    the outbox, whose folder may not be usable yet: the gateway runs on, without checkpoints, and says so)."""

    def __init__(
        self, settings: JournalSettings, gateway: str, key: Ed25519PrivateKey | Callable[[], Ed25519PrivateKey]
    ) -> None:
        self._settings = settings
        self._gateway = gateway
        self._key_source = key if callable(key) else None
        self._key: Ed25519PrivateKey | None = None if callable(key) else key
        self._key_failed_at = float("-inf")
        self._next = load_private(settings.next_key_file) if settings.next_key_file else None
        self._signed_seq = -1  # seq of the last checkpoint; -1: not read from the store yet
        self._signed_at = 0.0
        self._latest: bytes | None = None  # the last checkpoint's JSON, for republishing
        self._connects = -1
        self._pruned_at = float("-inf")
        self.checkpointed_at: float | None = None  # when the newest checkpoint was signed

    @property
    def signed_seq(self) -> int:
        return max(0, self._signed_seq)

    @property
    def signing(self) -> bool:
        return self._key is not None

    def turn(
        self,
        now: float,
        store: JournalStore,
        commit: Commit,
        connects: int,
        publish: Publish | None,
    ) -> None:
        """Sign when due; publish the latest checkpoint when it is new or the broker connection is."""
        if self._key is None and not self._load_key(now):
            return
        if self._signed_seq < 0:
            self._resume(store)
        last = store.last()
        if last[0] > self._signed_seq:
            entries = last[0] - self._signed_seq
            if entries >= self._settings.checkpoint_entries or now - self._signed_at >= self._settings.checkpoint_every:
                self._sign(now, store, last, commit)
        if now - self._pruned_at >= _PRUNE_EVERY_S:
            self._pruned_at = now
            self._prune(now, store, commit)
        if publish is not None and self._latest is not None and connects != self._connects:
            publish(self._latest)
            self._connects = connects

    def _load_key(self, now: float) -> bool:
        if self._key_source is None or now - self._key_failed_at < 60.0:
            return False
        try:
            self._key = self._key_source()
        except KeyError_ as exc:
            self._key_failed_at = now
            log.error("journal_key_unusable", error=str(exc), detail="events are linked, not signed; retried in 60s")
            return False
        return True

    def _resume(self, store: JournalStore) -> None:
        found = store.checkpoints()
        self._signed_seq = int(found[-1]["seq"]) if found else 0
        if found:
            self._latest = json.dumps(found[-1], separators=(",", ":")).encode()
            self.checkpointed_at = _unix(str(found[-1]["time"]))
        if self._next is not None and key_id(self._next.public_key()) in _announced(found):
            self._key, self._next = self._next, None  # announced before a restart: sign with the new key now

    def _prune(self, now: float, store: JournalStore, commit: Commit) -> None:
        removed: list[int] = []
        commit(lambda: removed.append(store.prune(now - self._settings.keep)))
        if removed and removed[0]:
            log.info("journal_pruned", entries=removed[0], older_than_s=self._settings.keep)

    def _sign(self, now: float, store: JournalStore, last: tuple[int, bytes], commit: Commit) -> None:
        assert self._key is not None
        announce = self._next.public_key() if self._next is not None else None
        checkpoint = sign(self._key, self._gateway, last[0], last[1].hex(), rfc3339(now), announce)
        commit(lambda: store.add_checkpoint(checkpoint))
        self._signed_seq, self._signed_at, self.checkpointed_at = last[0], now, now
        self._latest = json.dumps(checkpoint, separators=(",", ":")).encode()
        self._connects = -1  # publish it at once
        if self._next is not None:
            log.warning("journal_key_rotated", old=checkpoint["key_id"], new=key_id(self._next.public_key()))
            self._key, self._next = self._next, None
        log.info("journal_checkpoint", seq=last[0], key=checkpoint["key_id"])


def _announced(checkpoints: list[dict[str, Any]]) -> set[str]:
    """Ids of the keys the checkpoints announced."""
    ids = set()
    for cp in checkpoints:
        if cp.get("next_key"):
            key = load_pem_public_key(str(cp["next_key"]).encode())
            if isinstance(key, Ed25519PublicKey):
                ids.add(key_id(key))
    return ids


def _unix(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def checkpointer_for(config: Config) -> Checkpointer | None:
    """The journal's signer; its key made beside the outbox at the first start unless configured."""
    journal = config.journal
    if not journal.enabled:
        return None
    path = config.outbox.path
    if journal.key_file is not None:  # a configured key that cannot be used stops the start, with its reason
        return Checkpointer(journal, config.gateway.id, load_key(journal, path))
    return Checkpointer(journal, config.gateway.id, lambda: load_key(journal, path))
