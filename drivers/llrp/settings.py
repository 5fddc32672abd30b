"""What an LLRP reader's entry in ``readers`` may say. No sllurp here: the config loads this eagerly."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gateway.domain.settings import AntennaId, Duration, Name, Port, ReaderSettingsBase, Section

TagField = Literal["antenna", "rssi", "first_seen", "last_seen", "seen_count", "channel"]
DEFAULT_TAG_FIELDS: tuple[TagField, ...] = ("antenna", "rssi", "first_seen", "last_seen", "seen_count")


class LLRPGpiSettings(Section):
    port: int = Field(ge=1, le=65535, description="GPI port of the photo eye or motion sensor.")
    linger: Duration = Field(2.0, ge=0, description="Keep reading this long after the input goes inactive.")
    location: Name | None = Field(
        None, description="The door the input watches (no_read exceptions go there); default: the reader's location."
    )
    active_high: bool = Field(True, description="The input is active when high.")


class LLRPGpoPulse(Section):
    port: int = Field(ge=1, le=65535, description="GPO port to drive.")
    pulse: Duration = Field(0.5, gt=0, description="How long the output stays on.")


class LLRPReaderSettings(ReaderSettingsBase):
    type: Literal["llrp"] = Field(description="Reader driver: llrp.")
    host: str = Field(min_length=1, description="Reader host name or address.")
    port: Port = Field(5084, description="LLRP TCP port of the reader.")
    antennas: list[AntennaId] = Field(
        default_factory=lambda: [1], min_length=1, description="Antenna ports to inventory with."
    )
    report_every_n_tags: int = Field(
        50, ge=1, le=65535, description="The reader sends a report after this many tag reads..."
    )
    report_timeout: Duration = Field(
        0.2, gt=0, description="...or when this much time has passed since the last report."
    )
    reconnect_delay_max: Duration = Field(30.0, gt=0, description="Longest wait between two connection attempts.")
    reconnect_delay_min: Duration = Field(0.5, gt=0, description="First wait before connecting again (doubles).")
    vendor: Literal["impinj", "zebra", "generic"] = Field(
        "generic", description="Preset for session, reader mode and search mode (docs/llrp.md says why)."
    )
    tx_power: float | dict[AntennaId, float] | None = Field(
        None, description="Transmit power in dBm, one for all antennas or per antenna; the nearest level the "
        "reader offers is used (logged). Default: the reader's highest."
    )
    reader_mode: int | None = Field(None, ge=0, description="C1G2 RF mode (ModeIdentifier); default: the preset's.")
    session: Literal[0, 1, 2, 3] | None = Field(None, description="Gen2 session 0-3; default: the preset's.")
    search_mode: Literal["single_target", "dual_target", "single_target_suppression"] | None = Field(
        None, description="Impinj inventory search mode (Impinj readers only); default: the preset's."
    )
    tag_population: int = Field(32, ge=1, le=65535, description="Expected tags in the field at once.")
    report_fields: list[TagField] = Field(
        default_factory=lambda: list(DEFAULT_TAG_FIELDS),
        description="Tag fields the reader reports with each EPC.",
    )
    keepalive: Duration = Field(
        5.0, gt=0, description="The reader sends a keepalive this often; none for twice this long = dead link."
    )
    response_timeout: Duration = Field(10.0, gt=0, description="Longest wait for an answer to one request.")
    no_reads_after: Duration | None = Field(
        None,
        gt=0,
        description="No tag report for this long while the reader answers = state idle, and one corrective step "
        "(the ROSpec checked, started again if not Active). With a GPI gate only open windows count. Default: off.",
    )
    gpi: LLRPGpiSettings | None = Field(None, description="Gate reading on a GPI input (photo eye).")
    gpo: dict[Literal["arrived", "departed", "exception"], LLRPGpoPulse] = Field(
        default_factory=dict, description="GPO pulse per event type at this reader's door (light stack, buzzer)."
    )

    @model_validator(mode="after")
    def _per_antenna_power(self) -> LLRPReaderSettings:
        if isinstance(self.tx_power, dict):
            missing = sorted(set(self.antennas) - set(self.tx_power))
            extra = sorted(set(self.tx_power) - set(self.antennas))
            if missing or extra:
                raise ValueError(
                    f"tx_power: give a power for every antenna in {self.antennas}"
                    + (f"; missing {missing}" if missing else "")
                    + (f"; not an antenna of this reader {extra}" if extra else "")
                )
        return self

    def describe(self) -> str:
        return f"{self.name} (llrp {self.host}:{self.port}, antennas {self.antennas})"
