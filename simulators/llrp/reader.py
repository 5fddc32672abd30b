"""The simulated reader as its client sessions see it: the settings it was started with, and what outlives
one connection (the field schedule, which antennas are unplugged, GPI states, the GPO writes received).

One session at a time works on it, on that session's thread; tests read the outputs after the fact.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from simulators.llrp.capabilities import VENDORS
from simulators.llrp.field_events import FieldSchedule
from simulators.llrp.link_quirks import TIMED, LinkQuirks, quirk_name
from simulators.llrp.recording import Recording
from simulators.llrp.rospec import ROSpec
from simulators.llrp.scenario import Scenario

QUIRKS = (
    "error-on-events-and-reports",  # answer ENABLE_EVENTS_AND_REPORTS (which has no answer) with ERROR_MESSAGE
    "start-needs-start-rospec",  # an Immediate start trigger does not start the ROSpec: only START_ROSPEC does
    "reports-at-rospec-end",  # reports at ROSpec end unless ROReportSpec asks for N tags or a time (report_quirks)
    "epcdata-mixed",  # some tags reported with 128- or 496-bit EPCs in EPCData, mixed with EPC-96
    "vendor-custom-params",  # Impinj-like Custom parameters before and after the standard ones in TagReportData
    "no-keepalives",  # never sends KEEPALIVE, even when asked (link_quirks.py, as the two below)
    "stale-session",  # =S: a previous client's session is held for S seconds, then freed
    "reboot-after",  # =S: reboots S seconds after the first client connects
)


def utc_micros() -> int:
    """The reader's clock, as LLRP timestamps carry it."""
    return time.time_ns() // 1000


@dataclass
class Reader:
    scenario: Scenario
    antennas: int
    loop: bool  # restart the scenario when it ends
    speed: float  # scenario seconds per real second
    vendor: str
    quirks: frozenset[str]
    replay: Recording | None  # when set, a started ROSpec streams this recording (looped) instead
    replay_rate: float | None  # reads/s; None = as fast as the socket takes them
    schedule: FieldSchedule
    stopping: threading.Event = field(default_factory=threading.Event)
    gpo_writes: list[tuple[int, bool]] = field(default_factory=list)  # (port, state), in order
    close_connections: int = 0  # CLOSE_CONNECTION requests received
    disconnected_antennas: set[int] = field(default_factory=set)
    gpi_state: dict[int, bool] = field(default_factory=dict)
    link: LinkQuirks = field(default_factory=LinkQuirks)  # connection-side quirks and their state

    @classmethod
    def configure(
        cls,
        scenario: Scenario,
        antennas: int,
        loop: bool,
        speed: float,
        vendor: str,
        quirks: Sequence[str],
        replay: Recording | None,
        replay_rate: float | None,
        schedule: FieldSchedule,
    ) -> Reader:
        """A reader with these settings, or ValueError naming the one that is wrong."""
        if not 1 <= antennas <= 64:
            raise ValueError(f"antennas: expected 1-64, got {antennas}")
        if speed <= 0:
            raise ValueError(f"speed: expected a number > 0, got {speed}")
        if vendor not in VENDORS:
            raise ValueError(f"vendor: expected one of {', '.join(VENDORS)}, got {vendor!r}")
        unknown_quirks = sorted({quirk_name(q) for q in quirks} - set(QUIRKS))
        if unknown_quirks:
            raise ValueError(f"quirk: expected one of {', '.join(QUIRKS)}, got {unknown_quirks[0]!r}")
        plain = [q for q in quirks if quirk_name(q) not in TIMED]
        link = LinkQuirks.from_quirks(quirks)  # ValueError for a timed quirk without its time
        if replay_rate is not None and replay_rate <= 0:
            raise ValueError(f"rate: expected reads/s > 0, got {replay_rate}")
        reader = cls(scenario, antennas, loop, speed, vendor, frozenset(plain), replay, replay_rate, schedule)
        reader.link = link
        return reader

    def antennas_of(self, rospec: ROSpec) -> frozenset[int]:
        """The antennas a ROSpec reads on: those it names that the reader has, or all of them."""
        all_antennas = frozenset(range(1, self.antennas + 1))
        return rospec.antennas & all_antennas if rospec.antennas else all_antennas
