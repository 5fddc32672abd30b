"""What an Impinj IoT Device Interface reader's entry in ``readers`` may say (R700: REST + HTTP stream)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from gateway.domain.settings import AntennaId, Duration, ReaderSettingsBase, Section

SearchMode = Literal["single_target", "dual_target", "single_target_suppression"]


class ImpinjTagFilter(Section):
    action: Literal["include", "exclude"] = Field("include", description="Tags matching the mask are kept or left out.")
    bank: Literal["epc", "tid", "user"] = Field("epc", description="Tag memory bank the mask applies to.")
    bit_offset: int = Field(32, ge=0, description="Where the mask starts in the bank, in bits (EPC bank: 32 = EPC).")
    mask: str = Field(pattern=r"^[0-9A-Fa-f]+$", description="The pattern to match, hex.")
    mask_length: int | None = Field(None, ge=1, description="Bits of the mask that count; default: all of it.")


class ImpinjInventorySettings(Section):
    """A transient inventory that dockgate sends (``POST /api/v1/profiles/inventory/start``); the fields mean
    what the LLRP reader's fields of the same name mean."""

    tx_power: float | dict[AntennaId, float] = Field(
        30.0, description="Transmit power in dBm, one for all antennas or per antenna (sent in cdBm)."
    )
    session: Literal[0, 1, 2, 3] = Field(1, description="Gen2 session 0-3.")
    search_mode: SearchMode = Field("dual_target", description="Inventory search mode.")
    reader_mode: int = Field(4, ge=0, description="RF mode (the reader's rfMode); 4 is Impinj's default.")
    tag_population: int = Field(32, ge=1, le=65535, description="Expected tags in the field at once.")
    filters: list[ImpinjTagFilter] = Field(default_factory=list, description="Tag filters (the reader applies them).")
    filter_link: Literal["union", "intersection"] = Field("union", description="How several filters combine.")


class ImpinjIotReaderSettings(ReaderSettingsBase):
    type: Literal["impinj-iot"] = Field(description="Reader driver: impinj-iot (Impinj IoT Device Interface).")
    url: str = Field(min_length=1, description="Reader address: https://host[:port]; a bare host name means https.")
    insecure_http: bool = Field(
        False, description="Allow an http:// url: the password then crosses the network in clear (Basic auth)."
    )
    ca_file: Path | None = Field(None, description="CA certificate(s) to verify the reader; default: the system's.")
    verify_hostname: bool = Field(True, description="Check that the reader's certificate names the url's host.")
    username: str = Field("root", min_length=1, description="User name of the reader's REST API.")
    password_file: Path | None = Field(
        None, description="File holding the password (relative: under $CREDENTIALS_DIRECTORY when set)."
    )
    password_env: str | None = Field(None, min_length=1, description="Environment variable holding the password.")
    antennas: list[AntennaId] = Field(
        default_factory=lambda: [1], min_length=1, description="Antenna ports to inventory with."
    )
    preset: str | None = Field(
        None, min_length=1, description="Start this preset stored on the reader instead of sending `inventory`."
    )
    inventory: ImpinjInventorySettings | None = Field(
        None, description="The inventory dockgate sends (default, when no preset is named: all defaults)."
    )
    take_over: bool = Field(False, description="When another profile is running on the reader, stop it and start ours.")
    keepalive: Duration = Field(
        30.0, gt=0, description="The reader's HTTP stream keep-alive interval; nothing for 3x this long = dead stream."
    )
    response_timeout: Duration = Field(10.0, gt=0, description="Longest wait for an answer to one request.")
    reconnect_delay_min: Duration = Field(0.5, gt=0, description="First wait before connecting again (doubles).")
    reconnect_delay_max: Duration = Field(30.0, gt=0, description="Longest wait between two connection attempts.")
    refused_retry: Duration = Field(
        60.0, gt=0, description="Wait before trying again after a refusal that needs a person (401, 403, 404, busy)."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if "://" not in value:
            value = "https://" + value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected https://host[:port] (or http:// with insecure_http), got {value!r}")
        if parts.path not in ("", "/") or parts.query or parts.username:
            raise ValueError(f"give the reader's address only (https://host[:port]), got {value!r}")
        try:
            _ = parts.port
        except ValueError as exc:
            raise ValueError(f"{value!r}: {exc}") from None
        return value.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> ImpinjIotReaderSettings:
        if self.url.startswith("http://") and not self.insecure_http:
            raise ValueError(
                "url: http:// sends the reader's password in clear; use https:// or set insecure_http: true"
            )
        if self.preset is not None and self.inventory is not None:
            raise ValueError("set preset (stored on the reader) or inventory (sent by dockgate), not both")
        if self.preset is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", self.preset):
            raise ValueError(f"preset: expected a preset id (letters, digits, _ . -), got {self.preset!r}")
        if self.password_file is not None and self.password_env is not None:
            raise ValueError("set password_file or password_env, not both")
        power = self.inventory.tx_power if self.inventory is not None else None
        if isinstance(power, dict):
            missing = sorted(set(self.antennas) - set(power))
            extra = sorted(set(power) - set(self.antennas))
            if missing or extra:
                raise ValueError(
                    f"inventory.tx_power: give a power for every antenna in {self.antennas}"
                    + (f"; missing {missing}" if missing else "")
                    + (f"; not an antenna of this reader {extra}" if extra else "")
                )
        return self

    @property
    def is_https(self) -> bool:
        return self.url.startswith("https://")

    def describe(self) -> str:
        what = f"preset {self.preset}" if self.preset else "transient inventory"
        return f"{self.name} (impinj-iot {self.url}, antennas {self.antennas}, {what})"
