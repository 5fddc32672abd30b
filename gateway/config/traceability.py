"""Settings of the journal (the hash chain over every event and its signed checkpoints) and of the actors
(the people and vehicles that move the goods): docs/traceability.md."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from gateway.domain.settings import Duration, Name, Section


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


_ACTOR_ID = {
    "operator": re.compile(r"^urn:epc:id:gsrn:([0-9]{6,12})\.([0-9]{5,11})$"),
    "vehicle": re.compile(r"^urn:epc:id:giai:([0-9]{6,12})\.([!-~]{1,24})$"),
}


class ActorSettings(Section):
    name: Name = Field(description="Who: shown on events as operator.name or vehicle.name.")
    id: str = Field(
        description="The actor's identity: a person's badge as a GSRN (urn:epc:id:gsrn:0614141.1234567890, on an "
        "RFID badge or as a GS1 barcode with AI 8018), a vehicle's tag as a GIAI (urn:epc:id:giai:0614141.FL7)."
    )


class PersonSettings(ActorSettings):
    @field_validator("id")
    @classmethod
    def _gsrn(cls, value: str) -> str:
        if not _ACTOR_ID["operator"].match(value) or len(value.split(":")[-1]) != 18:
            raise ValueError(
                f"{value!r}: a person's badge is a GSRN, urn:epc:id:gsrn:<company prefix>.<ref>, 17 digits"
            )
        return value


class VehicleSettings(ActorSettings):
    @field_validator("id")
    @classmethod
    def _giai(cls, value: str) -> str:
        if not _ACTOR_ID["vehicle"].match(value):
            raise ValueError(f"{value!r}: a vehicle's tag is a GIAI, urn:epc:id:giai:<company prefix>.<asset ref>")
        return value


class ActorsSettings(Section):
    people: list[PersonSettings] = Field(
        default_factory=list, description="Operators: a badge scanned at a door (or read there) signs them in."
    )
    vehicles: list[VehicleSettings] = Field(
        default_factory=list, description="Forklifts and other vehicles: their tag read at a door signs them in."
    )
    sign_out_after: Duration = Field(
        4 * 3600.0,
        gt=0,
        description="A badge scanned in is signed out after this long without an event at its door (a tag read "
        "signs out when the tag departs).",
    )

    @model_validator(mode="after")
    def _unique(self) -> ActorsSettings:
        seen: dict[str, str] = {}
        for actor in [*self.people, *self.vehicles]:
            for key in (actor.name, actor.id):
                if key in seen:
                    raise ValueError(f"actors: {key!r} is listed twice; give each person and vehicle one entry")
                seen[key] = actor.name
        return self
