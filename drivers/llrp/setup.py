"""How a reader is set up for a session: what it can do (GET_READER_CAPABILITIES) and the settings decide
the Gen2 session, the RF mode, the search mode and the transmit power; from those come SET_READER_CONFIG
and the ROSpec. Plain functions of the settings and the capabilities; what the reader cannot do is logged
and left out, never fatal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sllurp.llrp_proto import LLRPROSpec

from drivers.llrp.settings import LLRPReaderSettings
from gateway.domain.log import get_logger

log = get_logger(__name__)

ROSPEC_ID = 1
IMPINJ = 25882
ZEBRA = 10642

# vendor preset -> (session, reader mode, Impinj search mode); docs/llrp.md says why
PRESETS: dict[str, tuple[int, int | None, str | None]] = {
    "impinj": (1, 1000, "dual_target"),
    "zebra": (0, None, None),
    "generic": (0, None, None),
}
_SEARCH_MODES = {"single_target": 1, "dual_target": 2, "single_target_suppression": 3}
_FIELDS = {
    "antenna": "EnableAntennaID",
    "rssi": "EnablePeakRSSI",
    "first_seen": "EnableFirstSeenTimestamp",
    "last_seen": "EnableLastSeenTimestamp",
    "seen_count": "EnableTagSeenCount",
    "channel": "EnableChannelIndex",
}


@dataclass
class Capabilities:
    manufacturer: int = 0
    model: int = 0
    antennas: int = 0
    gpis: int = 0
    gpos: int = 0
    power: list[tuple[int, float]] = field(default_factory=list)  # (index, dBm)
    modes: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Inventory:
    """How the reader inventories this session."""

    session: int
    mode: int | None
    search: str | None


def parse_capabilities(msg: dict[str, Any]) -> Capabilities:
    """GET_READER_CAPABILITIES_RESPONSE (sllurp's dict form) -> what the session needs of it."""
    caps = Capabilities()
    general = msg.get("GeneralDeviceCapabilities", {})
    caps.manufacturer = int(general.get("DeviceManufacturerName", 0))
    caps.model = int(general.get("ModelName", 0))
    caps.antennas = int(general.get("MaxNumberOfAntennaSupported", 0))
    gpio = general.get("GPIOCapabilities", {})
    caps.gpis, caps.gpos = int(gpio.get("NumGPIs", 0)), int(gpio.get("NumGPOs", 0))
    band = msg.get("RegulatoryCapabilities", {}).get("UHFBandCapabilities", {})
    power = band.get("TransmitPowerLevelTableEntry", [])
    caps.power = [(int(p["Index"]), int(p["TransmitPowerValue"]) / 100.0) for p in power]
    modes = band.get("UHFC1G2RFModeTable", {}).get("UHFC1G2RFModeTableEntry", [])
    if isinstance(modes, dict):
        modes = [modes]
    caps.modes = [int(m["ModeIdentifier"]) for m in modes]
    return caps


def choose_inventory(s: LLRPReaderSettings, caps: Capabilities) -> Inventory:
    """The settings, else the vendor preset, as far as the reader supports them."""
    preset_session, preset_mode, preset_search = PRESETS[s.vendor]
    session = s.session if s.session is not None else preset_session
    mode = s.reader_mode if s.reader_mode is not None else preset_mode
    if mode is not None and caps.modes and mode not in caps.modes:
        log.warning(
            "setting_unsupported",
            reader=s.name,
            setting="reader_mode",
            value=mode,
            offered=caps.modes,
            fallback=caps.modes[0],
        )
        mode = caps.modes[0]
    search = s.search_mode if s.search_mode is not None else preset_search
    if search is not None and caps.manufacturer != IMPINJ:
        log.warning(
            "setting_unsupported",
            reader=s.name,
            setting="search_mode",
            value=search,
            manufacturer=caps.manufacturer,
            fallback="none",
            detail="an Impinj extension",
        )
        search = None
    if caps.antennas:
        beyond = [a for a in s.antennas if a > caps.antennas]
        if beyond:
            log.warning("setting_unsupported", reader=s.name, setting="antennas", value=beyond, max=caps.antennas)
    return Inventory(session, mode, search)


def gpi_fallback(s: LLRPReaderSettings, caps: Capabilities) -> str | None:
    """Why this session reads ungated although ``gpi`` is set (a port beyond the reader's GPIs: a gate on it
    would never open, and the reader would look connected with no reads), or None: gate as configured."""
    if s.gpi is None or not caps.gpis or s.gpi.port <= caps.gpis:
        return None
    why = f"ungated: gpi.port {s.gpi.port} is beyond the reader's {caps.gpis} GPIs"
    log.warning(
        "setting_unsupported",
        reader=s.name,
        setting="gpi.port",
        value=s.gpi.port,
        gpis=caps.gpis,
        fallback="ungated",
        detail="reading without a GPI gate; set gpi.port to 1-" + str(caps.gpis) + " or remove gpi",
    )
    return why


def reader_config(s: LLRPReaderSettings, gated: bool = True) -> dict[str, Any]:
    """SET_READER_CONFIG: keepalives, the events the driver listens to, the GPI it gates on (``gated``)."""
    gated = gated and s.gpi is not None
    config: dict[str, Any] = {
        "ResetToFactoryDefaults": False,
        "ReaderEventNotificationSpec": {
            "EventNotificationState": {
                "GPIEvent": gated,
                "AntennaEvent": True,
                "ReaderExceptionEvent": True,
                "HoppingEvent": False,
                "ROSpecEvent": False,
                "ReportBufferFillWarning": True,
                "RFSurveyEvent": False,
                "AISpecEvent": False,
                "AISpecEventWithSingulation": False,
            }
        },
        "KeepaliveSpec": {"KeepaliveTriggerType": 1, "TimeInterval": int(s.keepalive * 1000)},
    }
    if gated and s.gpi is not None:
        config["GPIPortCurrentState"] = [{"GPIPortNum": s.gpi.port, "GPIConfig": True, "GPIState": 0}]
    return config


def nearest_power(table: list[tuple[int, float]], dbm: float | None) -> tuple[int, float]:
    """The table entry nearest ``dbm`` (the highest when None); ties go to the lower power."""
    if not table:
        return 0, 0.0
    if dbm is None:
        return max(table, key=lambda e: e[1])
    return min(table, key=lambda e: (abs(e[1] - dbm), e[1]))


def _power_index(s: LLRPReaderSettings, caps: Capabilities, antenna: int) -> int:
    wanted = s.tx_power.get(antenna) if isinstance(s.tx_power, dict) else s.tx_power
    index, dbm = nearest_power(caps.power, wanted)
    log.info(
        "tx_power",
        reader=s.name,
        antenna=antenna,
        wanted_dbm="max" if wanted is None else wanted,
        used_dbm=dbm,
        index=index,
    )
    return index


def rospec(s: LLRPReaderSettings, caps: Capabilities, inventory: Inventory) -> dict[str, Any]:
    """ADD_ROSPEC's ROSpec: inventory on the configured antennas, reporting the configured tag fields."""
    selector = {flag: name in s.report_fields for name, flag in _FIELDS.items()}
    selector.update(EnableROSpecID=False, EnableSpecIndex=False, EnableInventoryParameterSpecID=False)
    selector["EnableAccessSpecID"] = False
    mode = inventory.mode
    spec: dict[str, Any] = LLRPROSpec(
        {"ModeIdentifier": mode, "MaxTari": 0} if mode is not None else None,
        ROSPEC_ID,
        antennas=list(s.antennas),
        tx_power={a: _power_index(s, caps, a) for a in s.antennas},
        report_every_n_tags=s.report_every_n_tags,
        report_timeout_ms=max(1, int(s.report_timeout * 1000)),
        tag_content_selector=selector,
        session=inventory.session,
        tag_population=s.tag_population,
        impinj_search_mode=_SEARCH_MODES[inventory.search] if inventory.search is not None else None,
    )
    # Null: the driver starts it with START_ROSPEC (at once, or on GPI events when gated), because not
    # every reader starts an Immediate ROSpec on ENABLE_ROSPEC (drivers/llrp/rospec.py)
    spec["ROBoundarySpec"]["ROSpecStartTrigger"]["ROSpecStartTriggerType"] = "Null"
    # N in the ROReportSpec too (sllurp puts it only in the AISpec's tag observation trigger): some readers
    # report only when the ROSpec ends unless the ROReportSpec itself asks for every N tags
    spec["ROReportSpec"]["N"] = s.report_every_n_tags
    return spec
