"""``PresentLists``: what is present at each location, listed by the main loop for the snapshot (the
API, the board) and published retained on ``{prefix}/{gateway}/locations/{location}/present``.

A location's list is built again when something changed there (an event, or reads that moved a tag's
antennas or direction), at most every ``present.snapshot_every``; a broker connection that comes back
gets every list again. Building a list is O(tags there), never per read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from gateway.config.transparency import PresentSettings
from gateway.core.owners import Owners
from gateway.core.presence import PresenceTracker
from gateway.domain.log import get_logger
from gateway.domain.model import LocationEvent
from gateway.domain.present import PresentList

log = get_logger(__name__)

Publish = Callable[[str, bytes], None]  # (location, payload), retained


class PresentLists:
    def __init__(self, settings: PresentSettings, gateway: str, locations: Iterable[str], owners: Owners) -> None:
        self._settings = settings
        self._gateway = gateway
        self._owners = owners
        self._names = tuple(locations)
        self._dirty = set(self._names)  # every location is listed at the first turn, empty or not
        self._built: dict[str, float] = {}  # location -> when its list was last built
        self._reads: dict[str, int] = {}  # location -> reads behind its last list
        self._connects = -1  # the publisher's connection count when everything was last published
        self.lists: Mapping[str, PresentList] = MappingProxyType({})

    def saw(self, events: Iterable[LocationEvent]) -> None:
        """Events of this turn: their locations' lists are due."""
        dirty = self._dirty
        for event in events:
            dirty.add(event.location)

    def turn(
        self,
        now: float,
        presence: PresenceTracker,
        reads: Mapping[str, int],
        connects: int,
        publish: Publish | None,
    ) -> None:
        """Build the lists that are due; publish them (and all of them after a reconnect)."""
        every = self._settings.snapshot_every
        built = self._built
        due = [
            name
            for name in self._names
            if (name in self._dirty or reads.get(name, 0) != self._reads.get(name, 0))
            and now - built.get(name, float("-inf")) >= every
        ]
        republish = publish is not None and self._settings.mqtt and connects != self._connects
        if not due and not republish:
            return
        lists = dict(self.lists)
        owner_of = self._owners.of
        for name in due:
            lists[name] = presence.present_at(name, self._settings.max_tags, owner_of, now)
            built[name] = now
            self._reads[name] = reads.get(name, 0)
            self._dirty.discard(name)
        self.lists = MappingProxyType(lists)
        if publish is None or not self._settings.mqtt:
            return
        for name in self._names if republish else due:
            payload = json.dumps(lists[name].to_json(self._gateway), separators=(",", ":")).encode()
            publish(name, payload)
        self._connects = connects

    def adopt(self, old: PresentLists) -> None:
        """After a reload: the lists of locations that stayed are kept (and due again, to be safe)."""
        self.lists = MappingProxyType({k: v for k, v in old.lists.items() if k in self._names})
