"""The scenario file format as pydantic models: the shape of the YAML, each field's type and range, and the
rules one entry can check on its own.

Types are strict, as a reader of the file would expect: ``"5"`` is not a number and ``true`` is not 1.
Unknown keys are errors, so a misspelt ``read_rat:`` is not silently ignored. Rules that need the whole
file (an open visit ends at the duration, an EPC belongs to one pallet) are checked where the models become
a ``Scenario`` (``loading.py``). The format is described for people in ``README.md`` beside this module.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from simulators.llrp.durations import duration_seconds
from simulators.llrp.epc import EPCError, sgtin96, sscc96
from simulators.llrp.faults import Fault, FaultKind, GpiPulse


class FieldError(ValueError):
    """A rule of one entry broken at one of its fields: the error's path is the entry's plus ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Entry(BaseModel):
    """One mapping of the file. Its error path is where it stands (``pallets[0].visits[1]``)."""

    model_config = ConfigDict(strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _a_mapping_of_known_keys(cls, data: object) -> object:
        if not isinstance(data, dict):
            raise ValueError(f"expected a mapping, got {type(data).__name__}")
        unknown = sorted(str(key) for key in data if key not in cls.model_fields)
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r} (allowed: {', '.join(sorted(cls.model_fields))})")
        cls._check_keys(data)
        return data

    @classmethod
    def _check_keys(cls, data: dict[Any, Any]) -> None:
        """A rule on which keys are given, checked before their values."""


# ---- values ----------------------------------------------------------------------------------------


def _visit_end(value: object) -> object:
    return value if value == "open" else duration_seconds(value)


def _epc_hex(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a quoted hex string, got {value!r}")
    epc = value.strip().upper()
    if not re.fullmatch(r"(?:[0-9A-F]{4}){1,31}", epc):
        raise ValueError(f"expected hex, a multiple of 4 digits (16-bit words), got {value!r}")
    return epc


def _digits(value: object) -> object:
    if not isinstance(value, str) or not value.isdigit():
        raise ValueError(f"expected a quoted string of digits (leading zeros matter), got {value!r}")
    return value


def _antenna_id(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"antenna id must be an integer 1-65535, got {value!r}")
    return value


def _antenna_mapping(value: object) -> object:
    if not isinstance(value, dict) or not value:
        raise ValueError(
            "expected a mapping of antenna id -> mean RSSI dBm or a profile list, e.g. {1: -55, 3: [-75, -50, -70]}"
        )
    return value


def _profile(knots: list[float]) -> list[float]:
    if len(knots) < 2:
        raise ValueError(f"a profile needs at least 2 RSSI values (start, end), got {knots!r}")
    return knots


def _rssi_kind(value: object) -> str:
    return "RSSI profile" if isinstance(value, list) else "constant RSSI"


Duration = Annotated[float, BeforeValidator(duration_seconds)]
PositiveDuration = Annotated[float, Field(gt=0), BeforeValidator(duration_seconds)]
VisitEnd = Annotated[float | Literal["open"], BeforeValidator(_visit_end)]
ReadRate = Annotated[float, Field(gt=0, le=10_000)]  # reads per second per tag per antenna
Rssi = Annotated[float, Field(ge=-128, le=127)]  # dBm, as PeakRSSI carries it
# Antenna id -> a constant mean RSSI or knots evenly spaced over the visit. The union members' tags name
# no field of the file, so error paths leave them out.
Antennas = Annotated[
    dict[
        Annotated[int, BeforeValidator(_antenna_id)],
        Annotated[
            Annotated[Rssi, Tag("constant RSSI")]
            | Annotated[list[Rssi], AfterValidator(_profile), Tag("RSSI profile")],
            Discriminator(_rssi_kind),
        ],
    ],
    BeforeValidator(_antenna_mapping),
]
Filter = Annotated[int, Field(ge=0, le=7)]  # the EPC filter value


# ---- tags ------------------------------------------------------------------------------------------


class SgtinTags(Entry):
    """``count`` SGTIN-96 tags of one trade item, serials ``serial`` .. ``serial + count - 1``."""

    company_prefix: Annotated[str, BeforeValidator(_digits)]
    item_reference: Annotated[str, BeforeValidator(_digits)]
    serial: Annotated[int, Field(ge=0)] = 1
    count: Annotated[int, Field(ge=1, le=100_000)] = 1
    filter: Filter = 1

    def epcs(self) -> list[str]:
        return [
            sgtin96(self.company_prefix, self.item_reference, self.serial + k, self.filter) for k in range(self.count)
        ]

    @model_validator(mode="after")
    def _encodable(self) -> Self:
        try:  # the first and the last serial: the others lie between them
            sgtin96(self.company_prefix, self.item_reference, self.serial, self.filter)
            sgtin96(self.company_prefix, self.item_reference, self.serial + self.count - 1, self.filter)
        except EPCError as exc:
            raise ValueError(str(exc)) from exc
        return self


class SsccTag(Entry):
    """One SSCC-96 tag (a pallet label)."""

    company_prefix: Annotated[str, BeforeValidator(_digits)]
    serial_reference: Annotated[str, BeforeValidator(_digits)]
    filter: Filter = 0

    def epc(self) -> str:
        return sscc96(self.company_prefix, self.serial_reference, self.filter)

    @model_validator(mode="after")
    def _encodable(self) -> Self:
        try:
            self.epc()
        except EPCError as exc:
            raise ValueError(str(exc)) from exc
        return self


class TagSpec(Entry):
    """Tags given in exactly one way: an EPC in hex, SGTINs or an SSCC."""

    epc: Annotated[str, BeforeValidator(_epc_hex)] | None = None
    sgtin: SgtinTags | None = None
    sscc: SsccTag | None = None

    def epcs(self) -> list[str]:
        if self.epc is not None:
            return [self.epc]
        if self.sgtin is not None:
            return self.sgtin.epcs()
        assert self.sscc is not None
        return [self.sscc.epc()]

    @classmethod
    def _check_keys(cls, data: dict[Any, Any]) -> None:
        # before the values: with two kinds given, which one is wrong is beside the point
        if sum(data.get(kind) is not None for kind in ("epc", "sgtin", "sscc")) != 1:
            raise ValueError("expected exactly one of epc, sgtin, sscc")


# ---- where and when tags are seen --------------------------------------------------------------------


class Gap(Entry):
    """A stretch of scenario time without reads of a visit or a static tag."""

    start: Duration
    end: Duration

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> Self:
        if self.end <= self.start:
            raise FieldError("end", f"must be after start ({self.end:g}s <= {self.start:g}s)")
        return self


class VisitEntry(Entry):
    start: Duration
    end: VisitEnd  # or "open": still there when the scenario ends
    antennas: Antennas
    direction: Literal["in", "out"] | None = None
    gaps: list[Gap] = []
    stray: bool = False  # a neighbouring door's antennas read the pallet: not a true visit
    read_rate: ReadRate | None = None

    @model_validator(mode="after")
    def _a_stray_has_no_direction(self) -> Self:
        if self.stray and self.direction is not None:
            raise FieldError("direction", "a stray visit is not a true visit and has no direction")
        return self


class PalletEntry(Entry):
    name: str
    location: str  # ground truth: where the pallet really is
    tags: Annotated[list[TagSpec], Field(min_length=1)]
    visits: Annotated[list[VisitEntry], Field(min_length=1)]

    def epcs(self) -> list[str]:
        return [epc for tag in self.tags for epc in tag.epcs()]

    @model_validator(mode="after")
    def _each_epc_once(self) -> Self:
        epcs = self.epcs()
        if len(set(epcs)) != len(epcs):
            raise FieldError("tags", "the same EPC is listed twice")
        return self


class StaticTagEntry(TagSpec):
    """A tag fixed in the read zone (door frame, fire extinguisher), seen for the whole scenario."""

    name: str | None = None  # default static-1, static-2, ...
    location: str
    antennas: Antennas
    gaps: list[Gap] = []
    read_rate: ReadRate | None = None


# ---- faults and GPI --------------------------------------------------------------------------------


class FaultEntry(Entry):
    kind: FaultKind
    after: Duration
    antenna: int | None = None

    def fault(self) -> Fault:
        return Fault(self.kind, self.after, self.antenna or 0)

    @model_validator(mode="after")
    def _antenna_for_antenna_kinds_only(self) -> Self:
        if self.kind.startswith("antenna"):
            if self.antenna is None or not 1 <= self.antenna <= 64:
                raise FieldError("antenna", f"expected an antenna id 1-64, got {self.antenna!r}")
        elif self.antenna is not None:
            raise FieldError("antenna", "only for antenna-off / antenna-on")
        return self


class GpiEntry(Entry):
    port: Annotated[int, Field(ge=1, le=64)]
    at: Duration
    duration: PositiveDuration

    def pulse(self) -> GpiPulse:
        return GpiPulse(self.port, self.at, self.duration)


# ---- the file --------------------------------------------------------------------------------------


class ScenarioFile(Entry):
    name: str | None = None  # default: the file name
    description: str = ""
    category: Literal["clean", "noisy"] | None = None
    read_rate: ReadRate = 8.0
    rssi_noise_db: Annotated[float, Field(ge=0, le=40)] = 0.0
    drop_rate: Annotated[float, Field(ge=0, lt=1)] = 0.0
    min_rssi: Rssi | None = None
    seed: int = 1
    duration: PositiveDuration | None = None  # default: the end of the last visit
    site: dict[str, Any] | None = None  # the gateway config the scenario is meant for, passed through
    shipments: list[dict[str, Any]] | None = None  # orders and their truth (gateway/bench/shipments.py), passed through
    pallets: list[PalletEntry] | None = None
    static_tags: list[StaticTagEntry] = []
    faults: list[FaultEntry] = []
    gpi: list[GpiEntry] = []
