"""Where a read happened: which location a (reader, antenna) watches, which side of the door it faces,
its minimum RSSI, and the tag filters of that location (include/exclude by EPC hex prefix or EPC URI
pattern, an ignore list)."""

from __future__ import annotations

from gateway.config import Config, FilterSettings
from gateway.core.identity import IdentityCache, UriPattern

OUTSIDE = 1
INSIDE = 2
_SIDES = {None: 0, "outside": OUTSIDE, "inside": INSIDE}


class TagFilter:
    """Include / exclude / ignore rules; ``reason(epc)`` says why a tag is dropped, or None."""

    def __init__(self, settings: FilterSettings, identity: IdentityCache) -> None:
        self._identity = identity
        self._include_prefixes = tuple(m for m in settings.include if not m.startswith("urn:"))
        self._include_patterns = [UriPattern(m) for m in settings.include if m.startswith("urn:")]
        self._exclude_prefixes = tuple(m for m in settings.exclude if not m.startswith("urn:"))
        self._exclude_patterns = [UriPattern(m) for m in settings.exclude if m.startswith("urn:")]
        self._ignore = frozenset(settings.ignore)
        self.active = bool(settings.include or settings.exclude or settings.ignore)

    def reason(self, epc: str) -> str | None:
        if epc in self._ignore:
            return "ignored"
        if self._exclude_prefixes and epc.startswith(self._exclude_prefixes):
            return "excluded"
        if self._exclude_patterns:
            uri = self._identity.uri(epc)
            if any(p.matches(uri) for p in self._exclude_patterns):
                return "excluded"
        if self._include_prefixes or self._include_patterns:
            if self._include_prefixes and epc.startswith(self._include_prefixes):
                return None
            if self._include_patterns:
                uri = self._identity.uri(epc)
                if any(p.matches(uri) for p in self._include_patterns):
                    return None
            return "not_included"
        return None


class Location:
    """A place where events happen, with its filters and its neighbours (resolved after construction)."""

    __slots__ = ("filter", "name", "neighbours")

    def __init__(self, name: str, tag_filter: TagFilter | None) -> None:
        self.name = name
        self.filter = tag_filter
        self.neighbours: tuple[Location, ...] = ()


class ReadPoint:
    """What one (reader, antenna) watches, and how many reads it has seen (for metrics)."""

    __slots__ = ("last_read", "location", "min_rssi", "reads", "side")

    def __init__(self, location: Location, side: int, min_rssi: float | None) -> None:
        self.location = location
        self.side = side
        self.min_rssi = min_rssi
        self.reads = 0
        self.last_read = 0.0


class ReadPointMap:
    """(reader, antenna) -> ReadPoint, built from the config."""

    def __init__(self, config: Config, identity: IdentityCache) -> None:
        antennas_of = {reader.name: reader.antennas for reader in config.readers}
        self.locations: dict[str, Location] = {}
        for settings in config.locations:
            location_filter = TagFilter(settings.filters, identity)
            self.locations[settings.name] = Location(settings.name, location_filter if location_filter.active else None)
        for settings in config.locations:
            self.locations[settings.name].neighbours = tuple(self.locations[n] for n in settings.neighbours)
        self.points: dict[tuple[str, int], ReadPoint] = {}
        for settings in config.locations:
            location = self.locations[settings.name]
            for point in settings.read_points:
                for antenna in point.antennas or antennas_of[point.reader]:
                    self.points[(point.reader, antenna)] = ReadPoint(location, _SIDES[point.side], point.min_rssi)

    def get(self, reader: str, antenna: int) -> ReadPoint | None:
        return self.points.get((reader, antenna))

    def location_of(self, reader: str, antenna: int) -> str | None:
        point = self.points.get((reader, antenna))
        return point.location.name if point is not None else None
