"""The simulator's faults, from ``--fault SPEC``. Times ``S`` count from the first profile start (reading
time), except ``booting-for`` and ``unauthorized-for``, which count from the simulator's start.

- ``cut-after=S``: the stream's connection is closed at S (once); the profile keeps running.
- ``stall-after=S[+D]``: at S the stream goes silent, keep-alives too, for D (default: until the client
  gives up and reconnects); the connection stays open.
- ``unauthorized-for=S``: every request is answered 401 for S.
- ``booting-for=S``: every request is answered 503 for S.
- ``reboot-after=S[+D]``: at S the reader reboots: streams closed, profile stopped, 503 for D (default 3s).
- ``overflow-after=S``: an ``overflow`` event at S (the reader says it purged events).
- ``malformed-after=S``: malformed lines in the stream at S (not JSON, cut short, the wrong shape).
- ``antenna-off=A@S``: an ``antennaDisconnected`` event for antenna A at S.
- ``busy``: another profile runs when the simulator starts (not dockgate's: stop it or take over).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.llrp.durations import parse_duration

KINDS = (
    "cut-after",
    "stall-after",
    "unauthorized-for",
    "booting-for",
    "reboot-after",
    "overflow-after",
    "malformed-after",
    "antenna-off",
    "busy",
)


@dataclass(frozen=True)
class Fault:
    kind: str
    at_s: float = 0.0
    for_s: float | None = None
    antenna: int = 0


def parse_fault(spec: str) -> Fault:
    kind, _, value = spec.partition("=")
    if kind not in KINDS:
        raise ValueError(f"--fault {spec!r}: unknown fault (known: {', '.join(KINDS)})")
    if kind == "busy":
        return Fault(kind)
    if not value:
        raise ValueError(f"--fault {spec!r}: needs a value, e.g. {kind}=5s")
    antenna = 0
    if kind == "antenna-off":
        port, _, value = value.partition("@")
        if not port.isdigit() or not value:
            raise ValueError(f"--fault {spec!r}: expected antenna-off=A@S, e.g. antenna-off=2@3s")
        antenna = int(port)
    at, _, length = value.partition("+")
    try:
        at_s = parse_duration(at, f"--fault {kind}")
        for_s = parse_duration(length, f"--fault {kind}") if length else None
    except Exception as exc:
        raise ValueError(f"--fault {spec!r}: {exc}") from None
    if kind == "reboot-after" and for_s is None:
        for_s = 3.0
    return Fault(kind, at_s, for_s, antenna)
