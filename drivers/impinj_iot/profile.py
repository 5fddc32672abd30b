"""Which profile dockgate starts: a preset stored on the reader, or a transient inventory it sends.

The transient body follows the IoT Device Interface's InventoryRequest model: one
InventoryAntennaConfiguration per antenna (power in cdBm, rfMode, session, search mode, population,
filters) and an event configuration that asks for the fields dockgate uses.
"""

from __future__ import annotations

from typing import Any

from drivers.impinj_iot.settings import ImpinjInventorySettings, ImpinjIotReaderSettings

SEARCH_MODES = {
    "single_target": "single-target",
    "dual_target": "dual-target",
    "single_target_suppression": "single-target-with-tagfocus",
}
_FIELDS_ON = ("epcHex", "antennaPort", "peakRssiCdbm", "lastSeenTime", "phaseAngle", "frequency")


def start_request(s: ImpinjIotReaderSettings) -> tuple[str, dict[str, Any] | None]:
    """(path, JSON body) of the POST that starts reading."""
    if s.preset is not None:
        return f"/api/v1/profiles/inventory/presets/{s.preset}/start", None
    return "/api/v1/profiles/inventory/start", inventory_request(s.antennas, s.inventory or ImpinjInventorySettings())


def inventory_request(antennas: list[int], inv: ImpinjInventorySettings) -> dict[str, Any]:
    configs = []
    for antenna in antennas:
        power = inv.tx_power[antenna] if isinstance(inv.tx_power, dict) else inv.tx_power
        config: dict[str, Any] = {
            "antennaPort": antenna,
            "transmitPowerCdbm": round(power * 100),
            "rfMode": inv.reader_mode,
            "inventorySession": inv.session,
            "inventorySearchMode": SEARCH_MODES[inv.search_mode],
            "estimatedTagPopulation": inv.tag_population,
        }
        if inv.filters:
            config["filtering"] = {
                "filters": [
                    {
                        "action": f.action,
                        "tagMemoryBank": f.bank,
                        "bitOffset": f.bit_offset,
                        "mask": f.mask.upper(),
                        **({"maskLength": f.mask_length} if f.mask_length is not None else {}),
                    }
                    for f in inv.filters
                ],
                "filterLink": inv.filter_link,
            }
        configs.append(config)
    tag_fields = {name: "enabled" for name in _FIELDS_ON}
    return {
        "antennaConfigs": configs,
        "eventConfig": {
            "common": {"hostname": "disabled"},
            "tagInventory": {
                "tagReporting": {
                    "reportingIntervalSeconds": 0,
                    "antennaIdentifier": "antennaPort",
                    "tagIdentifier": "epcHex",
                },
                **tag_fields,
            },
        },
    }


def describe(s: ImpinjIotReaderSettings) -> str:
    return f"preset {s.preset}" if s.preset is not None else "transient inventory"
