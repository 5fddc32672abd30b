"""The building blocks of every settings model: the config schema's sections and each driver's own
reader settings are made of these, so a field means the same and fails the same way everywhere."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from gateway.domain.units import parse_duration, parse_size

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written in the file as ``250ms``, ``5s``, ``2m`` or a plain number of seconds."""


def _port(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"expected a TCP port 1-65535, got {value!r}")
    return value


Port = Annotated[int, BeforeValidator(_port)]
Size = Annotated[int, BeforeValidator(parse_size)]
AntennaId = Annotated[int, Field(ge=1, le=65535)]

# Names appear in MQTT topics: keep them free of topic separators and wildcards.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]


class Section(BaseModel):
    """A block of settings: unknown keys are errors, and a loaded config never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ReaderSettingsBase(Section):
    """What every reader's settings have. Each driver's settings model extends it with a ``type``
    literal of its own and an ``antennas`` list (empty for a scanner); the config's reader union is
    built from the driver registry."""

    kind: ClassVar[Literal["rfid", "scanner"]] = "rfid"
    """rfid: read points name its antennas; scanner: a read point names the scanner alone."""

    name: Name = Field(description="The reader's name; used in read points, events and topics.")

    def describe(self) -> str:
        """One line for ``dockgate check-config``."""
        return f"{self.name} ({getattr(self, 'type', '?')})"
