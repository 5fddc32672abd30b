"""A door's light stack, driven by its shipment's state: amber while a shipment is open or loading, green
when it is verified, red from an exception until it is acknowledged (each optional, on GPO ports of a
reader: ``locations[].lights``). Lights change only when the door's state does. The main loop owns it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drivers.base import ReaderDriver
from gateway.config import Config
from gateway.domain.log import get_logger

log = get_logger(__name__)

_LIT = {"loading": ("open", "loading"), "verified": ("verified",), "exception": ("exception",)}


class DoorLights:
    def __init__(self, config: Config) -> None:
        self._lights = {loc.name: loc.lights for loc in config.locations if loc.lights is not None}
        self._state: dict[str, str] = {}  # location -> the door state the lights show

    def update(self, doors: Mapping[str, Mapping[str, Any]], drivers: Mapping[str, ReaderDriver]) -> None:
        for location, lights in self._lights.items():
            state = str(doors.get(location, {}).get("state", "idle"))
            previous = self._state.get(location, "idle")
            if state == previous:
                continue
            self._state[location] = state
            driver = drivers.get(lights.reader)
            for name, states in _LIT.items():
                light = getattr(lights, name)
                if light is None or driver is None:
                    continue
                on, was = state in states, previous in states
                if on and not was:
                    self._switch(driver, location, name, light.port, True, light.pulse)
                elif was and not on and light.pulse is None:
                    self._switch(driver, location, name, light.port, False, None)

    @staticmethod
    def _switch(driver: ReaderDriver, location: str, light: str, port: int, on: bool, pulse: float | None) -> None:
        done = driver.set_output(port, on, pulse)
        log.info("door_light", location=location, light=light, port=port, on=on, pulse_s=pulse, done=done)
