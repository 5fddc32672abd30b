"""Parse an ROSpec parameter (LLRP 1.0.1 section 16.2.4.1) into what the simulator honours."""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import Final

from simulators.llrp import frames as f

START_NULL: Final = 0
START_IMMEDIATE: Final = 1
STOP_NULL: Final = 0
STOP_DURATION: Final = 1
AI_STOP_DURATION: Final = 1
AI_STOP_TAG_OBSERVATION: Final = 3
UPON_N_TAGS: Final = 0

STATE_DISABLED: Final = 0
STATE_INACTIVE: Final = 1
STATE_ACTIVE: Final = 2

_ROSPEC_HEAD = struct.Struct("!IBB")
_TRIGGER = struct.Struct("!BI")
_TAG_OBSERVATION = struct.Struct("!BBHHHI")
_REPORT_SPEC = struct.Struct("!BH")


@dataclass(frozen=True)
class ROSpec:
    rospec_id: int
    priority: int
    state: int
    start_trigger: int
    stop_trigger: int
    stop_duration_ms: int
    antennas: frozenset[int]  # empty = all antennas
    report_trigger: int | None  # None: no ROReportSpec, use the reader's default
    report_n: int
    selector: f.ContentSelector | None
    observation_n: int  # AISpecStopTrigger "Tag observation" UponNTags: report every N reads
    observation_timeout_ms: int  # ... or after this many ms
    ai_duration_ms: int  # AISpecStopTrigger Duration: the AISpec ends (and reports) this often
    raw: bytes  # the parameter body as received, echoed by GET_ROSPECS

    def with_state(self, state: int) -> ROSpec:
        return replace(self, state=state)

    def encode(self) -> bytes:
        """The ROSpec parameter with its CurrentState as it is now."""
        head = _ROSPEC_HEAD.pack(self.rospec_id, self.priority, self.state)
        return f.tlv(f.P_ROSPEC, head, self.raw[_ROSPEC_HEAD.size :])


def parse_rospec(body: bytes) -> ROSpec:
    """Parse the body of an ROSpec parameter; raises ParameterError naming what is wrong."""
    rospec_id, priority, _state = f.unpack_exact(_ROSPEC_HEAD, body, "ROSpec")
    if rospec_id == 0:
        raise f.ParameterError("ROSpec.ROSpecID: must not be 0", f.M_FIELD_ERROR)
    start_trigger = stop_trigger = stop_ms = -1
    antennas: set[int] = set()
    report_trigger: int | None = None
    report_n = 0
    selector: f.ContentSelector | None = None
    obs_n = obs_timeout = ai_duration = 0
    ai_specs = 0
    for param in f.iter_params(body, _ROSPEC_HEAD.size):
        if param.type == f.P_RO_BOUNDARY_SPEC:
            for sub in f.iter_params(param.value):
                if sub.type == f.P_ROSPEC_START_TRIGGER:
                    start_trigger = f.unpack_exact(struct.Struct("!B"), sub.value, "ROSpecStartTrigger")[0]
                elif sub.type == f.P_ROSPEC_STOP_TRIGGER:
                    stop_trigger, stop_ms = f.unpack_exact(_TRIGGER, sub.value, "ROSpecStopTrigger")
        elif param.type == f.P_AISPEC:
            ai_specs += 1
            (count,) = f.unpack_exact(struct.Struct("!H"), param.value, "AISpec")
            ids = f.unpack_exact(struct.Struct(f"!{count}H"), param.value[2:], "AISpec.AntennaIDs")
            antennas.update(ids)
            for sub in f.iter_params(param.value, 2 + 2 * count):
                if sub.type != f.P_AISPEC_STOP_TRIGGER:
                    continue
                kind, duration = f.unpack_exact(_TRIGGER, sub.value, "AISpecStopTrigger")
                if kind == AI_STOP_DURATION:
                    ai_duration = duration
                for obs in f.iter_params(sub.value, _TRIGGER.size):
                    if obs.type == f.P_TAG_OBSERVATION_TRIGGER and kind == AI_STOP_TAG_OBSERVATION:
                        trig, _, n, _, _, timeout = f.unpack_exact(_TAG_OBSERVATION, obs.value, "TagObservationTrigger")
                        if trig == UPON_N_TAGS:
                            obs_n, obs_timeout = n, timeout
        elif param.type == f.P_RO_REPORT_SPEC:
            report_trigger, report_n = f.unpack_exact(_REPORT_SPEC, param.value, "ROReportSpec")
            for sub in f.iter_params(param.value, _REPORT_SPEC.size):
                if sub.type == f.P_TAG_REPORT_CONTENT_SELECTOR:
                    flags = f.unpack_exact(struct.Struct("!H"), sub.value, "TagReportContentSelector")[0]
                    selector = f.ContentSelector.from_flags(flags)
    if start_trigger < 0 or stop_trigger < 0:
        raise f.ParameterError("ROSpec.ROBoundarySpec: missing start or stop trigger", f.M_MISSING_PARAMETER)
    if ai_specs == 0:
        raise f.ParameterError("ROSpec: needs at least one AISpec", f.M_MISSING_PARAMETER)
    if 0 in antennas:  # antenna 0 means all antennas
        antennas.clear()
    return ROSpec(
        rospec_id=rospec_id,
        priority=priority,
        state=STATE_DISABLED,
        start_trigger=start_trigger,
        stop_trigger=stop_trigger,
        stop_duration_ms=stop_ms if stop_trigger == STOP_DURATION else 0,
        antennas=frozenset(antennas),
        report_trigger=report_trigger,
        report_n=report_n,
        selector=selector,
        observation_n=obs_n,
        observation_timeout_ms=obs_timeout,
        ai_duration_ms=ai_duration,
        raw=body,
    )
