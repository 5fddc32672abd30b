"""What the simulated reader says about itself: GET_READER_CAPABILITIES and GET_READER_CONFIG
responses, shaped like a 4-port FCC reader so that sllurp's `parseCapabilities` is satisfied."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

from simulators.llrp import frames as f

MANUFACTURER_ID: Final = 0  # IANA private enterprise number; 0 = not a real vendor
MODEL_ID: Final = 1
FIRMWARE: Final = b"dockgate-sim 1.0"
READER_MAC: Final = bytes.fromhex("0016250000d0")

# Transmit power table: 10.00 .. 32.50 dBm in 0.25 dB steps, indices from 1 (sllurp requires 1..n).
TX_POWER_CENTI_DBM: Final = tuple(range(1000, 3251, 25))
# FCC Part 15 hop table: 50 channels, 902.75 .. 927.25 MHz, in kHz.
HOP_FREQUENCIES_KHZ: Final = tuple(range(902_750, 927_251, 500))
# (ModeIdentifier, DR, M, ForwardLinkModulation, SpectralMask, BDR, PIE, MinTari, MaxTari, StepTari)
RF_MODES: Final = (
    (0, 1, 0, 2, 2, 640_000, 1500, 6250, 6250, 0),
    (1, 1, 1, 2, 2, 640_000, 1500, 6250, 6250, 0),
    (2, 1, 2, 2, 3, 274_000, 2000, 20000, 20000, 0),
    (3, 1, 3, 2, 3, 170_600, 2000, 20000, 20000, 0),
    (1000, 1, 1, 2, 3, 40_000, 1500, 6250, 25000, 0),
)
COUNTRY_CODE_US: Final = 840
COMMUNICATIONS_STANDARD_FCC: Final = 1


@dataclass(frozen=True)
class VendorProfile:
    """What a reader family says about itself: enough for a client to pick its presets by."""

    name: str
    manufacturer_id: int
    model_id: int
    firmware: bytes
    antennas: int  # default port count
    gpis: int
    gpos: int
    tx_power_centi_dbm: tuple[int, ...]
    rf_modes: tuple[tuple[int, ...], ...]


# Impinj Speedway R420-like: IANA 25882, 4 ports, 10.00-32.50 dBm in 0.25 dB steps, AutoSet modes
# (1000, 1002-1005) besides the fixed ones, 4 GPI / 4 GPO; accepts IMPINJ_ENABLE_EXTENSIONS.
# Zebra FX9600-like: IANA 10642, 8 ports, 10.0-31.5 dBm in 0.1 dB steps, numbered modes, 4 GPI / 4 GPO.
VENDORS: Final[dict[str, VendorProfile]] = {
    "generic": VendorProfile("generic", MANUFACTURER_ID, MODEL_ID, FIRMWARE, 4, 2, 2, TX_POWER_CENTI_DBM, RF_MODES),
    "impinj": VendorProfile(
        "impinj",
        25882,
        2001002,
        b"7.5.0.240",
        4,
        4,
        4,
        TX_POWER_CENTI_DBM,
        (
            *RF_MODES[:4],
            (4, 1, 1, 2, 3, 160_000, 1500, 6250, 25000, 0),
            *RF_MODES[4:],
            *((mode, 1, 1, 2, 3, 40_000, 1500, 6250, 25000, 0) for mode in (1002, 1003, 1004, 1005)),
        ),
    ),
    "zebra": VendorProfile(
        "zebra",
        10642,
        9600,
        b"3.10.30",
        8,
        4,
        4,
        tuple(range(1000, 3151, 10)),
        tuple(
            (mode, 1, m, 2, 3, bdr, 1500, 6250, 25000, 0)
            for mode, m, bdr in (
                (0, 0, 640_000),
                (1, 1, 640_000),
                (2, 2, 320_000),
                (3, 4, 250_000),
                (4, 8, 160_000),
                (23, 4, 250_000),
            )
        ),
    ),
}


def capabilities_response(msg_id: int, antennas: int, requested: int = 0, vendor: str = "generic") -> bytes:
    """`requested`: 0 all, 1 general device, 2 LLRP, 3 regulatory, 4 air protocol capabilities."""
    profile = VENDORS[vendor]
    parts = {
        1: general_device_capabilities(antennas, profile),
        2: llrp_capabilities(),
        3: regulatory_capabilities(profile),
        4: f.tlv(f.P_C1G2_LLRP_CAPABILITIES, struct.pack("!BH", 0, 2)),
    }
    chosen = list(parts.values()) if requested == 0 else [parts[requested]]
    return f.response(f.GET_READER_CAPABILITIES_RESPONSE, msg_id, f.M_SUCCESS, "", *chosen)


def general_device_capabilities(antennas: int, profile: VendorProfile | None = None) -> bytes:
    p = profile or VENDORS["generic"]
    flags = 0x8000 | 0x4000  # CanSetAntennaProperties, HasUTCClockCapability
    fixed = struct.pack("!HHIIH", antennas, flags, p.manufacturer_id, p.model_id, len(p.firmware)) + p.firmware
    sensitivity = f.tlv(f.P_RECEIVE_SENSITIVITY_TABLE_ENTRY, struct.pack("!Hh", 1, 0))
    gpio = f.tlv(f.P_GPIO_CAPABILITIES, struct.pack("!HH", p.gpis, p.gpos))
    air = b"".join(
        f.tlv(f.P_PER_ANTENNA_AIR_PROTOCOL, struct.pack("!HHB", ant, 1, 1)) for ant in range(1, antennas + 1)
    )
    return f.tlv(f.P_GENERAL_DEVICE_CAPABILITIES, fixed, sensitivity, gpio, air)


def llrp_capabilities() -> bytes:
    # flags: CanReportBufferFillWarning; priority 0; 1 ROSpec, 1 AISpec, 1 IPSpec, 16 AccessSpecs
    return f.tlv(f.P_LLRP_CAPABILITIES, struct.pack("!BBHIIIII", 0x40, 0, 0, 1, 1, 1, 16, 1))


def regulatory_capabilities(profile: VendorProfile | None = None) -> bytes:
    p = profile or VENDORS["generic"]
    power = b"".join(
        f.tlv(f.P_TRANSMIT_POWER_LEVEL_TABLE_ENTRY, struct.pack("!Hh", i, value))
        for i, value in enumerate(p.tx_power_centi_dbm, start=1)
    )
    hop_table = f.tlv(
        f.P_FREQUENCY_HOP_TABLE,
        struct.pack("!BBH", 1, 0, len(HOP_FREQUENCIES_KHZ)),
        b"".join(struct.pack("!I", khz) for khz in HOP_FREQUENCIES_KHZ),
    )
    frequency_info = f.tlv(f.P_FREQUENCY_INFORMATION, struct.pack("!B", 0x80), hop_table)
    modes = f.tlv(
        f.P_UHF_C1G2_RF_MODE_TABLE,
        b"".join(
            f.tlv(
                f.P_UHF_C1G2_RF_MODE_TABLE_ENTRY,
                struct.pack("!IBBBBIIIII", mode_id, dr << 7, m, flm, smi, bdr, pie, tmin, tmax, tstep),
            )
            for mode_id, dr, m, flm, smi, bdr, pie, tmin, tmax, tstep in p.rf_modes
        ),
    )
    band = f.tlv(f.P_UHF_BAND_CAPABILITIES, power, frequency_info, modes)
    return f.tlv(f.P_REGULATORY_CAPABILITIES, struct.pack("!HH", COUNTRY_CODE_US, COMMUNICATIONS_STANDARD_FCC), band)


@dataclass
class ReaderConfig:
    """The parts of the reader configuration a client can set and read back."""

    keepalive_ms: int = 0  # 0 = no keepalives
    ro_report_trigger: int = 0
    ro_report_n: int = 0
    selector: f.ContentSelector = field(
        default_factory=lambda: f.ContentSelector(antenna_id=True, peak_rssi=True, last_seen=True, tag_seen_count=True)
    )
    events: dict[int, bool] = field(default_factory=dict)
    hold_events_on_reconnect: bool = False


def reader_config_response(msg_id: int, antennas: int, config: ReaderConfig) -> bytes:
    ident = f.tlv(f.P_IDENTIFICATION, struct.pack("!BH", 0, len(READER_MAC)), READER_MAC)
    props = b"".join(
        f.tlv(f.P_ANTENNA_PROPERTIES, struct.pack("!BHh", 0x80, ant, 600)) for ant in range(1, antennas + 1)
    )
    max_power_index = len(TX_POWER_CENTI_DBM)
    ant_configs = b"".join(
        f.tlv(
            f.P_ANTENNA_CONFIGURATION,
            struct.pack("!H", ant),
            f.tlv(f.P_RF_RECEIVER, struct.pack("!H", 1)),
            f.tlv(f.P_RF_TRANSMITTER, struct.pack("!HHH", 1, 1, max_power_index)),
        )
        for ant in range(1, antennas + 1)
    )
    event_states = b"".join(
        f.tlv(f.P_EVENT_NOTIFICATION_STATE, struct.pack("!HB", event, 0x80 if config.events.get(event) else 0))
        for event in range(9)
    )
    return f.response(
        f.GET_READER_CONFIG_RESPONSE,
        msg_id,
        f.M_SUCCESS,
        "",
        ident,
        props,
        ant_configs,
        f.tlv(f.P_READER_EVENT_NOTIFICATION_SPEC, event_states),
        f.ro_report_spec(config.ro_report_trigger, config.ro_report_n, config.selector),
        f.tlv(f.P_ACCESS_REPORT_SPEC, struct.pack("!B", 0)),
        f.tlv(f.P_LLRP_CONFIGURATION_STATE_VALUE, struct.pack("!I", 0)),
        f.tlv(f.P_KEEPALIVE_SPEC, struct.pack("!BI", 1 if config.keepalive_ms else 0, config.keepalive_ms)),
        f.tlv(f.P_EVENTS_AND_REPORTS, struct.pack("!B", 0x80 if config.hold_events_on_reconnect else 0)),
    )
