"""Waiting before trying again: capped exponential backoff with full jitter, so a fleet that restarts
together does not retry in lockstep. The drivers' reconnect loops get the same curve from tenacity's
``wait_random_exponential``; this is for the loops that are not tenacity retries (the MQTT network
thread, the broker's refusals)."""

from __future__ import annotations

import random


def full_jitter(attempt: int, cap: float, base: float = 0.5) -> float:
    """Uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0.0, min(cap, base * 2.0 ** min(attempt, 30)))
