"""What is present at a location now, as the main loop lists it for other threads: immutable values,
built at most every ``present.snapshot_every`` (``gateway.ops.present``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gateway.domain.model import rfc3339

_EMPTY: Mapping[Any, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PresentTag:
    """One tag present at a location, as the present list shows it."""

    epc: str
    uri: str | None
    owner: str
    since: float  # first read of this visit (Unix time)
    last_seen: float
    antennas: tuple[int, ...]
    reads: int
    direction: str | None  # so far: in / out / None (not yet clear)
    direction_confidence: float
    static: bool


@dataclass(frozen=True, slots=True)
class PresentList:
    """What is present at one location, as of ``taken``: at most ``present.max_tags`` tags (the most
    recently arrived first); ``truncated`` more are present and not listed."""

    location: str
    taken: float
    tags: tuple[PresentTag, ...] = ()
    truncated: int = 0
    owners: Mapping[str, int] = field(default_factory=lambda: _EMPTY)  # owner -> tags present, listed or not

    @property
    def count(self) -> int:
        return len(self.tags) + self.truncated

    def to_json(self, gateway: str, owner: str | None = None) -> dict[str, Any]:
        """As published on ``{prefix}/{gateway}/locations/{location}/present`` and served by the API
        (docs/present.schema.json). ``owner``: only that owner's tags; ``count`` and ``truncated`` are then
        that owner's too (every tag's owner is counted, listed or not)."""
        tags = self.tags if owner is None else tuple(t for t in self.tags if t.owner == owner)
        count = self.count if owner is None else self.owners.get(owner, 0)
        return {
            "gateway": gateway,
            "location": self.location,
            "time": rfc3339(self.taken),
            "owner": owner,
            "count": count,
            "truncated": count - len(tags),
            "owners": dict(self.owners) if owner is None else {owner: count},
            "tags": [
                {
                    "epc": t.epc,
                    "uri": t.uri,
                    "owner": t.owner,
                    "since": rfc3339(t.since),
                    "last_seen": rfc3339(t.last_seen),
                    "antennas": list(t.antennas),
                    "reads": t.reads,
                    "direction": t.direction,
                    "direction_confidence": t.direction_confidence,
                    "static": t.static,
                }
                for t in tags
            ],
        }
