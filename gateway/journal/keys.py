"""Ed25519 signing keys of the journal: PEM files (PKCS#8 private, SubjectPublicKeyInfo public), the
private one owner-only. A key's id is the first 16 hex digits of SHA-256 of its raw public key."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.domain.errors import DockgateError


class KeyError_(DockgateError):
    """A key file that cannot be used; the message names the file and what to do."""


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def write_private(path: Path, key: Ed25519PrivateKey) -> None:
    """Owner-only whatever the umask: created 0600 (O_EXCL: an existing key is never overwritten)."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())


def keygen(private: Path, public: Path | None = None) -> Ed25519PrivateKey:
    """A new key pair: ``private`` (0600) and ``public`` (default: ``private`` + ``.pub``)."""
    key = Ed25519PrivateKey.generate()
    write_private(private, key)
    (public or private.with_name(private.name + ".pub")).write_bytes(public_pem(key.public_key()))
    return key


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise KeyError_(f"journal key {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyError_(f"journal key {path} is readable by others (mode {stat.S_IMODE(mode):o}): chmod 600 {path}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyError_(f"journal key {path}: not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyError_(f"journal key {path}: an Ed25519 key is needed (dockgate journal keygen makes one)")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise KeyError_(f"public key {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise KeyError_(f"public key {path}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyError_(f"public key {path}: not an Ed25519 key")
    return key
