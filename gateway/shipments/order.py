"""A shipment as it is posted: its id, door, direction and expected items, checked field by field.

An expected item is an exact identity (an EPC in hex as readers report it, or a pure identity URI such as
``urn:epc:id:sscc:0614141.1234567890`` from an advance ship notice) or a class with a quantity
(``urn:epc:idpat:sgtin:0614141.812345.*`` x 24). Refusals name the field (pydantic's ``loc``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from gateway.core.identity import UriPattern, epc_uri
from gateway.domain.settings import Duration, Name

SHIPMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
_HEX = re.compile(r"[0-9A-Fa-f]{8,}")
_URI = re.compile(r"urn:epc:id:[a-z]+:[!-~]+")


def _identity(value: object) -> object:
    """EPC hex (upper-cased) or a pure identity URI; anything else is refused with what it was."""
    if isinstance(value, str):
        if _HEX.fullmatch(value):
            return value.upper()
        if _URI.fullmatch(value) and "*" not in value:
            UriPattern(value)  # a known scheme with its number of components; raises ValueError naming it
            return value
    raise ValueError(
        f"{value!r} is neither an EPC in hex (e.g. 3034257BF7194E4000000001) nor a pure identity URI "
        "(e.g. urn:epc:id:sscc:0614141.1234567890)"
    )


def _pattern(value: object) -> object:
    if not isinstance(value, str) or not value.startswith(("urn:epc:idpat:", "urn:epc:id:")):
        raise ValueError(f"expected an EPC class pattern such as urn:epc:idpat:sgtin:0614141.812345.*, got {value!r}")
    UriPattern(value)
    return value


Identity = Annotated[str, BeforeValidator(_identity)]
ClassPattern = Annotated[str, BeforeValidator(_pattern)]
Direction = Literal["in", "out"]


class ExpectedClass(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: ClassPattern = Field(description="EPC class pattern, e.g. urn:epc:idpat:sgtin:0614141.812345.*")
    quantity: int = Field(ge=1, le=1_000_000, description="How many items of this class are expected.")


class ShipmentOrder(BaseModel):
    """What a back office sends to open a shipment at a door."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64, pattern=SHIPMENT_ID_PATTERN, description="Shipment id, unique.")
    location: Name = Field(description="The door (locations[].name) the shipment passes.")
    direction: Direction = Field(description="out: loading a truck; in: receiving.")
    items: list[Identity] = Field(default_factory=list, description="Exact identities: EPC hex or pure identity URIs.")
    classes: list[ExpectedClass] = Field(default_factory=list, description="Classes with a quantity.")
    deadline: datetime | None = Field(None, description="Closed at this time (RFC 3339) if still open.")
    close_after: Duration | None = Field(
        None, gt=0, description="Closed when no expected item has passed for this long, once one has."
    )
    biz_transaction: str | None = Field(
        None,
        max_length=256,
        pattern=r"^[A-Za-z][A-Za-z0-9+.-]*:[!-~]+$",
        description="The business transaction as a URI in EPCIS, e.g. urn:epcglobal:cbv:bt:0614141000005:ASN-7 "
        "(default: urn:dockgate:shipment:{gateway}:{id}).",
    )

    @field_validator("deadline")
    @classmethod
    def _with_offset(cls, deadline: datetime | None) -> datetime | None:
        if deadline is not None and deadline.utcoffset() is None:
            raise ValueError("a deadline needs its UTC offset (2026-12-03T17:00:00+01:00 or ...Z)")
        return deadline

    @field_validator("items")
    @classmethod
    def _each_once(cls, items: list[str]) -> list[str]:
        """An item listed twice (also once by EPC and once by its URI) could never be verified."""
        first: dict[str, int] = {}
        for i, item in enumerate(items):
            keys = [item] if item.startswith("urn:") else [item, epc_uri(item) or item]
            for key in keys:
                if key in first:
                    raise ValueError(f"item {i} ({item}) is item {first[key]} again (by EPC or by URI): list each once")
            for key in keys:
                first[key] = i
        return items

    def size(self) -> int:
        """Expected items, counted as the limit counts them."""
        return len(self.items) + sum(c.quantity for c in self.classes)
