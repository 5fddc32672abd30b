"""Signed checkpoints: an Ed25519 signature over the gateway id, the seq and hash of the last entry
covered, the time and the key id (and, when the key changes, the next key's public key: a rotation is
announced in a checkpoint signed by the old key).

A checkpoint as stored and published on ``{prefix}/{gateway}/journal/checkpoint`` (retained)::

    {"gateway": "gw-1", "seq": 1000, "hash": "<64 hex>", "time": "2026-12-04T10:00:00.000Z",
     "key_id": "<16 hex>", "next_key": null | "<PEM of the next public key>", "signature": "<128 hex>"}

The signed bytes are the canonical form (``gateway.journal.entry.canonical``) of the object without
``signature``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.journal.entry import canonical
from gateway.journal.keys import key_id, public_pem

FIELDS = ("gateway", "seq", "hash", "time", "key_id", "next_key", "signature")


def sign(
    key: Ed25519PrivateKey,
    gateway: str,
    seq: int,
    hash_hex: str,
    time: str,
    next_key: Ed25519PublicKey | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "gateway": gateway,
        "seq": seq,
        "hash": hash_hex,
        "time": time,
        "key_id": key_id(key.public_key()),
        "next_key": public_pem(next_key).decode() if next_key is not None else None,
    }
    return {**body, "signature": key.sign(canonical(body)).hex()}


def check(checkpoint: Mapping[str, Any], public: Ed25519PublicKey) -> str | None:
    """None when ``checkpoint`` is well formed and signed by ``public``; else why not."""
    missing = [f for f in FIELDS if f not in checkpoint]
    if missing:
        return f"checkpoint lacks {', '.join(missing)}"
    if checkpoint["key_id"] != key_id(public):
        return f"checkpoint signed by key {checkpoint['key_id']}, expected {key_id(public)}"
    body = {k: checkpoint[k] for k in FIELDS if k != "signature"}
    try:
        public.verify(bytes.fromhex(str(checkpoint["signature"])), canonical(body))
    except (InvalidSignature, ValueError):
        return "checkpoint signature does not verify"
    return None
