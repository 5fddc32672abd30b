"""Durations as people write them in config files: ``250ms``, ``5s``, ``2m``, ``1h``, ``7d`` or a number of seconds;
and sizes: ``512MB``, ``1GiB``, ``64k`` or a number of bytes."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)


def parse_duration(value: object) -> float:
    """Return the duration in seconds, or raise ValueError with a message fit for a config error."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 250ms, 5s or 2m, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"expected a duration of zero or more, got {value!r}")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise ValueError(f"expected a duration such as 250ms, 5s or 2m, got {value!r}")


def parse_size(value: object) -> int:
    """Return a size in bytes (``k`` = 1000, ``KiB`` = 1024), or raise ValueError."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            unit = (match.group(2) or "b").lower()
            power = "bkmgt".index(unit[0])
            base = 1024 if "i" in unit else 1000
            return int(float(match.group(1)) * base**power)
    raise ValueError(f"expected a size such as 64MB, 1GiB or a number of bytes, got {value!r}")
