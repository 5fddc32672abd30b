"""Settings of the journal: the hash chain over every event and its signed checkpoints
(docs/traceability.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from gateway.domain.settings import Duration, Section


class JournalSettings(Section):
    enabled: bool = Field(True, description="Link every event into the journal and sign checkpoints.")
    key_file: Path | None = Field(
        None,
        description="Ed25519 private key (PEM, owner-only; dockgate journal keygen makes one); a relative path is "
        "looked up in $CREDENTIALS_DIRECTORY first. Default: <outbox>.journal.key, made at the first start.",
    )
    next_key_file: Path | None = Field(
        None, description="Rotation: the next key; the next checkpoint announces it, signed by key_file."
    )
    checkpoint_entries: int = Field(1000, ge=1, description="A signed checkpoint after this many entries ...")
    checkpoint_every: Duration = Field(60.0, gt=0, description="... or this long after the last one, if newer.")
    keep: Duration = Field(90 * 86400.0, ge=3600, description="Entries older than this are pruned (still verifying).")
