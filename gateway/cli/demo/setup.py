"""The demo's scenario and the gateway config that goes with it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gateway.config import Config, parse_config
from gateway.ops.net import free_port

if TYPE_CHECKING:
    from simulators.llrp.scenario import Scenario

DEFAULT_SCENARIO = "in-and-out"
GATEWAY_ID = "gw-demo"
BOARD_HOLDER = "demo-board"  # the demo's viewer token: the door board's one-time login link is minted for it
# Where the demo's sites are, as GS1 location numbers (the GS1 example company prefix 0614141):
# dock-N is urn:epc:id:sgln:0614141.0000N.0, its door's read point extension 1.
DEFAULT_SITE: dict[str, Any] = {
    "readers": [{"name": "portal-3", "type": "llrp", "host": "127.0.0.1", "antennas": [1, 2, 3, 4]}],
    "locations": [
        {
            "name": "dock-3",
            "read_points": [
                {"reader": "portal-3", "antennas": [1, 2], "side": "outside"},
                {"reader": "portal-3", "antennas": [3, 4], "side": "inside"},
            ],
        }
    ],
}


class DemoError(Exception):
    """The demo cannot start: says what and what to do."""


def scenario_path(name: str | None) -> Path:
    """A library scenario by name (``in-and-out``), a simulator scenario (``quick``), or a file path."""
    from simulators.llrp.scenario import default_scenario_path
    from simulators.scenarios import library, library_dir

    name = name or DEFAULT_SCENARIO
    candidates = [library_dir() / f"{name}.yaml", default_scenario_path().parent / f"{name}.yaml", Path(name)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    names = ", ".join(p.stem for p in library())
    raise DemoError(f"--scenario {name}: no such scenario in the library ({names}) and no such file")


def site_of(scenario: Scenario) -> dict[str, Any]:
    """The scenario's own site (readers and locations), or the demo's one door."""
    return scenario.site or DEFAULT_SITE


def write_board_token(directory: Path) -> Path:
    """A fresh random viewer token in an owner-only file in ``directory`` (the demo's temporary one)."""
    path = directory / f"{BOARD_HOLDER}.token"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_urlsafe(32) + "\n")
    return path


def demo_config(
    scenario: Scenario, broker_port: int, reader_port: int, outbox: Path, epcis: bool, token: Path | None = None
) -> Config:
    """The gateway config for a scenario, every reader on the simulator's port; ``token``: the file of the
    board's viewer token (``write_board_token``), and the HTTP listener on a free port of 127.0.0.1."""
    site = site_of(scenario)
    readers = [{**reader, "host": "127.0.0.1", "port": reader_port} for reader in site["readers"]]
    locations = []
    for location in site["locations"]:
        number = "".join(ch for ch in location["name"] if ch.isdigit())[-5:].rjust(5, "0")
        locations.append(
            {
                **location,
                "epcis": {
                    "read_point": f"urn:epc:id:sgln:0614141.{number}.1",
                    "biz_location": f"urn:epc:id:sgln:0614141.{number}.0",
                    "biz_step": "arriving",
                    "inbound": {"biz_step": "receiving", "disposition": "in_progress"},
                    "outbound": {"biz_step": "shipping", "disposition": "in_transit"},
                },
            }
        )
    data: dict[str, Any] = {
        "gateway": {"id": GATEWAY_ID},
        "mqtt": {
            "host": "127.0.0.1",
            "port": broker_port,
            "protocol": "3.1.1",  # the embedded broker speaks MQTT 3.1.1
            "topic_prefix": "dockgate",
            "epcis": epcis,
        },
        "readers": readers,
        "locations": locations,
        "pipeline": {"arrive_min_reads": 2, "arrive_window": "1s", "depart_after": "3s"},
        "outbox": {"path": str(outbox)},
    }
    # the door board and metrics on this machine only, off the default port (another gateway may hold it)
    data["metrics"] = {"listen": f"127.0.0.1:{free_port()}"}
    if token is not None:
        data["api"] = {"tokens": [{"name": BOARD_HOLDER, "file": str(token), "role": "viewer"}]}
    return parse_config(yaml.safe_dump(data, sort_keys=False), "demo config")


def antennas_needed(scenario: Scenario) -> int:
    """How many antennas the simulated reader must have: the most any reader or visit uses."""
    site = site_of(scenario)
    configured = (int(a) for reader in site["readers"] for a in reader.get("antennas", [1]))
    return max([*scenario.antennas_used(), *configured])
