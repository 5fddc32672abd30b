"""Each door's retained status on ``{prefix}/{gateway}/doors/{location}/status``: published when it
changes, and all of them again after every reconnect to the broker. The main loop owns it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from gateway.domain.model import rfc3339

Publish = Callable[[str, bytes], None]  # (location, payload), retained


class DoorBoard:
    def __init__(self) -> None:
        self._published: dict[str, dict[str, Any]] = {}
        self._connects = -1

    def update(self, doors: Mapping[str, Mapping[str, Any]], connects: int, connected: bool, publish: Publish) -> None:
        """``connects``: the publisher's connection count; a new connection publishes every door again."""
        if not connected:
            return
        again = connects != self._connects
        self._connects = connects
        for location, view in doors.items():
            if again or self._published.get(location) != view:
                self._published[location] = dict(view)
                payload = {**view, "updated": rfc3339(time.time())}
                publish(location, json.dumps(payload, separators=(",", ":")).encode())
