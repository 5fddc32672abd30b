"""What goes wrong in the field, on a schedule: connection faults, antenna events and GPI pulses.

Times count from the moment the first client connects to the simulator, and each item happens once
(a reconnecting client then gets normal service, so a test can see the gateway recover).

CLI forms (``--fault``, ``--gpi``), scenario forms (``faults:``, ``gpi:``)::

    drop-after=5s           {kind: drop, after: 5s}            close the TCP connection
    silent-after=5s         {kind: silent, after: 5s}          half-open: TCP stays, nothing is sent or answered
    garbage-after=5s        {kind: garbage, after: 5s}         send a frame with a broken header
    antenna-off=2@5s        {kind: antenna-off, antenna: 2, after: 5s}   AntennaEvent disconnected, no reads on it
    antenna-on=2@9s         {kind: antenna-on, antenna: 2, after: 9s}    AntennaEvent connected
    --gpi 1@2s+300ms        {port: 1, at: 2s, duration: 300ms} GPIEvent high at 2 s, low 300 ms later
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from simulators.llrp.durations import ScenarioError, parse_duration

FAULT_KINDS = ("drop", "silent", "garbage", "antenna-off", "antenna-on")


@dataclass(frozen=True)
class Fault:
    kind: str
    after_s: float
    antenna: int = 0


@dataclass(frozen=True)
class GpiPulse:
    port: int
    at_s: float
    duration_s: float


def parse_fault(text: str) -> Fault:
    """``drop-after=5s``, ``silent-after=5``, ``garbage-after=2.5s``, ``antenna-off=2@5s``."""
    match = re.fullmatch(r"(drop|silent|garbage)-after=(.+)", text)
    if match:
        return Fault(match.group(1), parse_duration(match.group(2), f"--fault {text}"))
    match = re.fullmatch(r"(antenna-off|antenna-on)=(\d+)@(.+)", text)
    if match:
        return Fault(match.group(1), parse_duration(match.group(3), f"--fault {text}"), int(match.group(2)))
    raise ScenarioError(
        f"--fault {text!r}: expected drop-after=S, silent-after=S, garbage-after=S, antenna-off=A@S or antenna-on=A@S"
    )


def parse_gpi(text: str) -> GpiPulse:
    """``1@2s+300ms``: port 1 goes high at 2 s for 300 ms."""
    match = re.fullmatch(r"(\d+)@([^+]+)\+(.+)", text)
    if not match:
        raise ScenarioError(f"--gpi {text!r}: expected PORT@START+DURATION, e.g. 1@2s+300ms")
    return GpiPulse(int(match.group(1)), parse_duration(match.group(2)), parse_duration(match.group(3)))


def faults_from_list(raw: object, path: str = "faults") -> tuple[Fault, ...]:
    if not isinstance(raw, list):
        raise ScenarioError(f"{path}: expected a list of faults")
    out = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        m = _mapping(item, where, {"kind", "after", "antenna"})
        kind = m.get("kind")
        if kind not in FAULT_KINDS:
            raise ScenarioError(f"{where}.kind: expected one of {', '.join(FAULT_KINDS)}, got {kind!r}")
        if "after" not in m:
            raise ScenarioError(f"{where}.after: required")
        antenna = m.get("antenna", 0)
        if kind.startswith("antenna"):
            if isinstance(antenna, bool) or not isinstance(antenna, int) or not 1 <= antenna <= 64:
                raise ScenarioError(f"{where}.antenna: expected an antenna id 1-64, got {antenna!r}")
        elif "antenna" in m:
            raise ScenarioError(f"{where}.antenna: only for antenna-off / antenna-on")
        out.append(Fault(kind, parse_duration(m["after"], f"{where}.after"), antenna))
    return tuple(out)


def gpi_from_list(raw: object, path: str = "gpi") -> tuple[GpiPulse, ...]:
    if not isinstance(raw, list):
        raise ScenarioError(f"{path}: expected a list of GPI pulses")
    out = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        m = _mapping(item, where, {"port", "at", "duration"})
        for key in ("port", "at", "duration"):
            if key not in m:
                raise ScenarioError(f"{where}.{key}: required")
        port = m["port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 64:
            raise ScenarioError(f"{where}.port: expected a GPI port 1-64, got {port!r}")
        duration = parse_duration(m["duration"], f"{where}.duration")
        if duration <= 0:
            raise ScenarioError(f"{where}.duration: must be > 0")
        out.append(GpiPulse(port, parse_duration(m["at"], f"{where}.at"), duration))
    return tuple(out)


def _mapping(raw: object, path: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: expected a mapping, got {raw!r}")
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise ScenarioError(f"{path}.{unknown[0]}: unknown field (allowed: {', '.join(sorted(allowed))})")
    return dict(raw)
