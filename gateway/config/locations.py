"""A location's settings: its read points, tag filters and how its events look as EPCIS."""

from __future__ import annotations

import re
from functools import partial
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from gateway.config.epcis_fields import check_cbv, check_time_zone, check_uri
from gateway.core.identity import UriPattern
from gateway.domain.settings import AntennaId, Duration, Name, Section


def _tag_matcher(value: object) -> object:
    """A filter entry: an EPC hex prefix (``3034257B``) or an EPC URI pattern (``urn:epc:id:sscc:0614141.*``)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected an EPC hex prefix or an EPC URI pattern, got {value!r}")
    if value.startswith("urn:epc:"):
        UriPattern(value)  # raises ValueError naming the pattern
        return value
    if not re.fullmatch(r"[0-9A-Fa-f]+", value):
        raise ValueError(f"{value!r} is neither an EPC hex prefix nor an EPC URI pattern (urn:epc:id:...)")
    return value.upper()


def _epc_hex(value: object) -> object:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9A-Fa-f]+", value):
        raise ValueError(f"expected an EPC in hex, got {value!r}")
    return value.upper()


TagMatcher = Annotated[str, BeforeValidator(_tag_matcher)]
EpcHex = Annotated[str, BeforeValidator(_epc_hex)]


class FilterSettings(Section):
    include: list[TagMatcher] = Field(
        default_factory=list, description="When not empty, only tags matching one of these pass."
    )
    exclude: list[TagMatcher] = Field(default_factory=list, description="Tags matching one of these never pass.")
    ignore: list[EpcHex] = Field(default_factory=list, description="EPCs (hex) to ignore, e.g. known test tags.")


class ReadPointSettings(Section):
    reader: Name = Field(description="Name of a reader in `readers`.")
    antennas: list[AntennaId] | None = Field(
        None, min_length=1, description="Antennas of that reader that watch this location; default all."
    )
    side: Literal["inside", "outside"] | None = Field(
        None, description="Which side of the door these antennas face; used for the direction of movement."
    )
    min_rssi: float | None = Field(None, description="Reads weaker than this (dBm) are dropped (counted).")


BizStep = Annotated[str | None, BeforeValidator(partial(check_cbv, "bizStep"))]
Disposition = Annotated[str | None, BeforeValidator(partial(check_cbv, "disposition"))]
EpcisUri = Annotated[str | None, BeforeValidator(check_uri)]
TimeZone = Annotated[str, BeforeValidator(check_time_zone)]


class EpcisStepSettings(Section):
    biz_step: BizStep = Field(None, description="CBV business step (receiving, shipping, ...) or a URI.")
    disposition: Disposition = Field(None, description="CBV disposition (in_progress, in_transit, ...) or a URI.")


class EpcisSettings(EpcisStepSettings):
    read_point: EpcisUri = Field(
        None, description="EPCIS readPoint: an SGLN (urn:epc:id:sgln:0614141.00777.1) or any URI."
    )
    biz_location: EpcisUri = Field(None, description="EPCIS bizLocation: an SGLN or any URI.")
    time_zone: TimeZone = Field(
        "UTC", description="For eventTimeZoneOffset: an IANA zone (Europe/Berlin) or an offset (+01:00)."
    )
    inbound: EpcisStepSettings | None = Field(
        None, description="biz_step / disposition for departed events with direction in (e.g. receiving)."
    )
    outbound: EpcisStepSettings | None = Field(
        None, description="biz_step / disposition for departed events with direction out (e.g. shipping)."
    )
    non_gs1: Literal["raw", "skip"] = Field(
        "raw", description="Tags without a GS1 identity: as EPC raw URI (urn:epc:raw:96.x...), or no EPCIS."
    )


class LightSettings(Section):
    port: int = Field(ge=1, le=65535, description="GPO port of this light (or buzzer) on the lights' reader.")
    pulse: Duration | None = Field(None, gt=0, description="On for this long; default: on while the state lasts.")


class DoorLightSettings(Section):
    reader: Name = Field(description="The reader whose GPO ports drive this door's light stack.")
    loading: LightSettings | None = Field(None, description="Amber: on while a shipment is open or loading.")
    verified: LightSettings | None = Field(None, description="Green: when a shipment is verified (pulse it).")
    exception: LightSettings | None = Field(
        None, description="Red: on from a shipment exception until it is acknowledged."
    )


class LocationSettings(Section):
    name: Name = Field(description="The location's name, e.g. dock-3; appears in topics and events.")
    read_points: list[ReadPointSettings] = Field(min_length=1, description="Reader antennas that watch this location.")
    neighbours: list[Name] = Field(
        default_factory=list,
        description="Locations whose antennas may read the same tags; a tag goes to the one with stronger evidence.",
    )
    filters: FilterSettings = Field(
        default_factory=FilterSettings,
        description="Tag filters for this location, applied after the global ones.",
    )
    epcis: EpcisSettings = Field(
        default_factory=EpcisSettings, description="How this location's events look as EPCIS (mqtt.epcis)."
    )
    lights: DoorLightSettings | None = Field(
        None, description="The door's light stack on a reader's GPO ports, driven by its shipment's state."
    )
