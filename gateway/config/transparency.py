"""Settings of what the gateway shows: whose goods a tag is (``owners``), what is present now
(``present``) and the regular statements (``reports``)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from gateway.core.identity import UriPattern
from gateway.domain.settings import Duration, Name, Section

UNASSIGNED = "unassigned"
"""The owner of every tag that no ``owners`` entry claims."""

_PREFIX = re.compile(r"^[0-9]{4,12}$")


class OwnerSettings(Section):
    name: Name = Field(description=f"The owner (a customer of the warehouse); {UNASSIGNED!r} is reserved.")
    company_prefixes: list[str] = Field(
        default_factory=list, description="GS1 company prefixes (4-12 digits) whose identities are this owner's."
    )
    patterns: list[str] = Field(
        default_factory=list,
        description="EPC URI patterns (urn:epc:idpat:sgtin:0614141.812345.*) whose identities are this owner's.",
    )

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == UNASSIGNED:
            raise ValueError(f"{UNASSIGNED!r} is the owner of unclaimed tags; give this owner another name")
        return value

    @field_validator("company_prefixes")
    @classmethod
    def _prefixes(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _PREFIX.match(value):
                raise ValueError(f"company prefix {value!r}: expected 4 to 12 digits, e.g. '0614141'")
        return values

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, values: list[str]) -> list[str]:
        for value in values:
            UriPattern(value)  # ValueError says what is wrong
        return values

    @model_validator(mode="after")
    def _claims(self) -> OwnerSettings:
        if not self.company_prefixes and not self.patterns:
            raise ValueError(f"owner {self.name!r} claims nothing: give company_prefixes or patterns")
        return self


class PresentSettings(Section):
    snapshot_every: Duration = Field(
        2.0, gt=0, description="What is present is published on change, at most this often per location."
    )
    max_tags: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="Tags listed per location, at most (the most recently arrived); the rest are counted in "
        "'truncated'.",
    )
    mqtt: bool = Field(True, description="Publish {prefix}/{gateway}/locations/{location}/present, retained.")


class ReportSettings(Section):
    report_every: Duration = Field(
        3600.0, ge=60, description="A report per owner and location is published this often (aligned to the clock)."
    )
    keep: Duration = Field(
        400 * 86400.0, ge=3600, description="Per-minute tallies behind the reports are kept this long."
    )
