"""What goes wrong in the field, on a schedule: connection faults, antenna events and GPI pulses.

Times count from the moment the first client connects to the simulator, and each item happens once
(a reconnecting client then gets normal service, so a test can see the gateway recover). This module
reads the command-line forms; the scenario file's forms are checked with the rest of the file
(``scenario/file_format.py``).

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
from typing import Final, Literal, get_args

from simulators.llrp.durations import ScenarioError, parse_duration

FaultKind = Literal["drop", "silent", "garbage", "antenna-off", "antenna-on"]
FAULT_KINDS: Final[tuple[str, ...]] = get_args(FaultKind)


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
