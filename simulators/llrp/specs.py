"""The ROSpecs and AccessSpecs a client has added on one connection, and the requests that manage them:
ADD, DELETE, ENABLE, DISABLE, START, STOP and GET, with LLRP's state rules (section 10.2).

A ROSpec is Disabled when added, Inactive once enabled and Active while its inventory runs; an
immediate start trigger starts it as soon as it is enabled (unless ``immediate_start`` is off: the
quirk ``start-needs-start-rospec`` of readers that wait for START_ROSPEC whatever the trigger says).
START_ROSPEC on a ROSpec that is already Active succeeds and changes nothing. Running the inventory is
the session's business, reached through ``SpecHost``; AccessSpecs are kept and echoed but never executed,
as no scenario reads tag memory.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from simulators.llrp import frames as f
from simulators.llrp.rospec import START_IMMEDIATE, STATE_DISABLED, STATE_INACTIVE, ROSpec, parse_rospec

log = logging.getLogger("simulators.llrp")

_ID = struct.Struct("!I")


class SpecHost(Protocol):
    """What the spec requests need from their connection."""

    @property
    def running_rospec_id(self) -> int | None: ...

    def ok(self, response_type: int, frame: f.Frame, *extra: bytes) -> None: ...

    def fail(self, response_type: int, frame: f.Frame, code: int, description: str) -> None: ...

    def begin_inventory(self, rospec: ROSpec) -> None: ...

    def end_inventory(self, new_state: int) -> None: ...


@dataclass
class AccessSpec:
    access_spec_id: int
    enabled: bool
    raw: bytes  # parameter body

    def encode(self) -> bytes:
        body = bytearray(self.raw)
        body[7] = (body[7] & 0x7F) | (0x80 if self.enabled else 0)
        return f.tlv(f.P_ACCESS_SPEC, bytes(body))


def spec_id(frame: f.Frame, what: str) -> int:
    """The ROSpecID or AccessSpecID a request names (0 = all of them)."""
    (value,) = f.unpack_exact(_ID, frame.body, what)
    for _ in f.iter_params(frame.body, 4):  # validates any trailing parameters
        pass
    return value


class SpecRequests:
    """The specs of one connection; ``handlers()`` maps the message types it answers to its methods."""

    def __init__(self, host: SpecHost, peer: str, immediate_start: bool = True) -> None:
        self.host = host
        self.peer = peer
        self.immediate_start = immediate_start
        self.rospecs: dict[int, ROSpec] = {}
        self.access_specs: dict[int, AccessSpec] = {}

    def handlers(self) -> dict[int, Callable[[f.Frame], None]]:
        return {
            f.ADD_ROSPEC: self.add_rospec,
            f.DELETE_ROSPEC: self.delete_rospec,
            f.START_ROSPEC: self.start_rospec,
            f.STOP_ROSPEC: self.stop_rospec,
            f.ENABLE_ROSPEC: self.enable_rospec,
            f.DISABLE_ROSPEC: self.disable_rospec,
            f.GET_ROSPECS: self.get_rospecs,
            f.ADD_ACCESSSPEC: self.add_accessspec,
            f.DELETE_ACCESSSPEC: self.delete_accessspec,
            f.ENABLE_ACCESSSPEC: self.enable_accessspec,
            f.DISABLE_ACCESSSPEC: self.disable_accessspec,
            f.GET_ACCESSSPECS: self.get_accessspecs,
        }

    def set_state(self, rospec_id: int, state: int) -> None:
        if rospec_id in self.rospecs:
            self.rospecs[rospec_id] = self.rospecs[rospec_id].with_state(state)

    def clear(self) -> None:
        self.rospecs.clear()
        self.access_specs.clear()

    def _targets(
        self, specs: Mapping[int, object], kind: str, frame: f.Frame, what: str, response_type: int
    ) -> list[int] | None:
        """The ids a request names: one, or all for id 0; None (the failure answered) if there is no such spec."""
        wanted = spec_id(frame, what)
        if wanted == 0:
            return sorted(specs)
        if wanted not in specs:
            self.host.fail(response_type, frame, f.M_FIELD_ERROR, f"no {kind} with {kind}ID {wanted}")
            return None
        return [wanted]

    # ---- ROSpecs -----------------------------------------------------------------------------

    def add_rospec(self, frame: f.Frame) -> None:
        params = list(f.iter_params(frame.body))
        specs = [p for p in params if p.type == f.P_ROSPEC]
        if len(specs) != 1:
            raise f.ParameterError(
                f"ADD_ROSPEC: expected one ROSpec parameter, got {len(specs)}",
                f.M_MISSING_PARAMETER if not specs else f.M_UNEXPECTED_PARAMETER,
            )
        rospec = parse_rospec(specs[0].value)
        if rospec.rospec_id in self.rospecs:
            self.host.fail(f.ADD_ROSPEC_RESPONSE, frame, f.M_FIELD_ERROR, f"ROSpecID {rospec.rospec_id} already exists")
            return
        self.rospecs[rospec.rospec_id] = rospec
        log.info("event=rospec_added peer=%s rospec_id=%d", self.peer, rospec.rospec_id)
        self.host.ok(f.ADD_ROSPEC_RESPONSE, frame)

    def delete_rospec(self, frame: f.Frame) -> None:
        self._disable_each(frame, "DELETE_ROSPEC", f.DELETE_ROSPEC_RESPONSE, self.rospecs.pop)

    def enable_rospec(self, frame: f.Frame) -> None:
        ids = self._targets(self.rospecs, "ROSpec", frame, "ENABLE_ROSPEC", f.ENABLE_ROSPEC_RESPONSE)
        if ids is None:
            return
        to_start = []
        for rospec_id in ids:
            rospec = self.rospecs[rospec_id]
            if rospec.state == STATE_DISABLED:
                self.rospecs[rospec_id] = rospec.with_state(STATE_INACTIVE)
                if rospec.start_trigger == START_IMMEDIATE and self.immediate_start:
                    to_start.append(rospec_id)
                elif rospec.start_trigger == START_IMMEDIATE:
                    log.info(
                        "event=rospec_waits_for_start peer=%s rospec_id=%d quirk=start-needs-start-rospec",
                        self.peer,
                        rospec_id,
                    )
        self.host.ok(f.ENABLE_ROSPEC_RESPONSE, frame)
        for rospec_id in to_start:
            self.host.begin_inventory(self.rospecs[rospec_id])

    def start_rospec(self, frame: f.Frame) -> None:
        rospec_id = spec_id(frame, "START_ROSPEC")
        rospec = self.rospecs.get(rospec_id)
        if rospec is None:
            self.host.fail(f.START_ROSPEC_RESPONSE, frame, f.M_FIELD_ERROR, f"no ROSpec with ROSpecID {rospec_id}")
            return
        if rospec.state == STATE_DISABLED:
            self.host.fail(f.START_ROSPEC_RESPONSE, frame, f.M_FIELD_ERROR, f"ROSpec {rospec_id} is disabled")
            return
        self.host.ok(f.START_ROSPEC_RESPONSE, frame)
        self.host.begin_inventory(rospec)

    def stop_rospec(self, frame: f.Frame) -> None:
        rospec_id = spec_id(frame, "STOP_ROSPEC")
        if rospec_id not in self.rospecs:
            self.host.fail(f.STOP_ROSPEC_RESPONSE, frame, f.M_FIELD_ERROR, f"no ROSpec with ROSpecID {rospec_id}")
            return
        if self.host.running_rospec_id == rospec_id:
            self.host.end_inventory(STATE_INACTIVE)
        self.host.ok(f.STOP_ROSPEC_RESPONSE, frame)

    def disable_rospec(self, frame: f.Frame) -> None:
        self._disable_each(frame, "DISABLE_ROSPEC", f.DISABLE_ROSPEC_RESPONSE, self._disable)

    def _disable(self, rospec_id: int) -> None:
        self.set_state(rospec_id, STATE_DISABLED)

    def _disable_each(self, frame: f.Frame, what: str, response_type: int, then: Callable[[int], object]) -> None:
        """DELETE and DISABLE: stop the inventory of each ROSpec named, if it runs, then ``then`` it."""
        ids = self._targets(self.rospecs, "ROSpec", frame, what, response_type)
        if ids is None:
            return
        for rospec_id in ids:
            if self.host.running_rospec_id == rospec_id:
                self.host.end_inventory(STATE_DISABLED)
            then(rospec_id)
        self.host.ok(response_type, frame)

    def get_rospecs(self, frame: f.Frame) -> None:
        self.host.ok(f.GET_ROSPECS_RESPONSE, frame, *(self.rospecs[i].encode() for i in sorted(self.rospecs)))

    # ---- AccessSpecs ---------------------------------------------------------------------------

    def add_accessspec(self, frame: f.Frame) -> None:
        specs = [p for p in f.iter_params(frame.body) if p.type == f.P_ACCESS_SPEC]
        if len(specs) != 1:
            raise f.ParameterError(
                f"ADD_ACCESSSPEC: expected one AccessSpec parameter, got {len(specs)}",
                f.M_MISSING_PARAMETER if not specs else f.M_UNEXPECTED_PARAMETER,
            )
        raw = specs[0].value
        access_id, _antenna, _protocol, flags, _rospec = f.unpack_exact(struct.Struct("!IHBBI"), raw, "AccessSpec")
        for _ in f.iter_params(raw, 12):
            pass
        if access_id == 0 or access_id in self.access_specs:
            self.host.fail(
                f.ADD_ACCESSSPEC_RESPONSE,
                frame,
                f.M_FIELD_ERROR,
                f"AccessSpecID {access_id} is 0 or already exists",
            )
            return
        self.access_specs[access_id] = AccessSpec(access_id, bool(flags & 0x80), raw)
        self.host.ok(f.ADD_ACCESSSPEC_RESPONSE, frame)

    def delete_accessspec(self, frame: f.Frame) -> None:
        ids = self._targets(self.access_specs, "AccessSpec", frame, "DELETE_ACCESSSPEC", f.DELETE_ACCESSSPEC_RESPONSE)
        if ids is not None:
            for access_id in ids:
                del self.access_specs[access_id]
            self.host.ok(f.DELETE_ACCESSSPEC_RESPONSE, frame)

    def enable_accessspec(self, frame: f.Frame) -> None:
        self._set_enabled(frame, "ENABLE_ACCESSSPEC", f.ENABLE_ACCESSSPEC_RESPONSE, True)

    def disable_accessspec(self, frame: f.Frame) -> None:
        self._set_enabled(frame, "DISABLE_ACCESSSPEC", f.DISABLE_ACCESSSPEC_RESPONSE, False)

    def _set_enabled(self, frame: f.Frame, what: str, response_type: int, enabled: bool) -> None:
        ids = self._targets(self.access_specs, "AccessSpec", frame, what, response_type)
        if ids is not None:
            for access_id in ids:
                self.access_specs[access_id].enabled = enabled
            self.host.ok(response_type, frame)

    def get_accessspecs(self, frame: f.Frame) -> None:
        specs = (self.access_specs[i].encode() for i in sorted(self.access_specs))
        self.host.ok(f.GET_ACCESSSPECS_RESPONSE, frame, *specs)
