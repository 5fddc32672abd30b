"""A journal entry and its link: ``hash = SHA-256(prev_hash || canonical bytes of the entry)``.

The entry of an event is its payload as published, without the fields that delivery adds
(``hash``, ``prev_hash`` and ``gap_before``). Canonical bytes: JSON with keys sorted, no spaces,
non-ASCII characters as themselves, UTF-8 (``json.dumps(entry, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)``). The first entry's ``prev_hash`` is 32 zero bytes. Hashes are written as
lowercase hex.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS = bytes(32)
DELIVERY_FIELDS = frozenset({"hash", "prev_hash", "gap_before"})  # not part of the entry


def canonical(entry: Mapping[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def link(prev_hash: bytes, entry: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(prev_hash + canonical(entry)).digest()


def entry_of(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The entry behind a published payload: the payload without the delivery fields."""
    return {k: v for k, v in payload.items() if k not in DELIVERY_FIELDS}
