"""Durations as scenario files and command lines write them (``250ms``, ``5s``, ``2m``, ``1.5``), and the
error both report.

A leaf module: the scenario file format and the fault flags (``faults.py``) both read durations, and the
scenario holds faults, so what they share lives here rather than in either one.
"""

from __future__ import annotations

import math
import re
from typing import Final

_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")
_SECONDS_PER_UNIT: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


class ScenarioError(ValueError):
    """A scenario file, fault or GPI flag that cannot be used; the message names the field path."""


def duration_seconds(value: object) -> float:
    """``250ms``, ``5s``, ``2m``, ``1.5`` or a number -> seconds; ValueError saying what is wrong."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 250ms, 5s, 2m or seconds, got {value!r}")
    if isinstance(value, int | float):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"must be a finite duration >= 0, got {value!r}")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)]
    raise ValueError(f"expected a duration like 250ms, 5s, 2m or seconds, got {value!r}")


def parse_duration(value: object, path: str = "duration") -> float:
    """Seconds, or ScenarioError naming ``path`` (a field path or the command-line flag)."""
    try:
        return duration_seconds(value)
    except ValueError as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
