"""The checks that span sections: names are unique, read points name readers that exist and antennas those
readers have, an antenna or a scanner belongs to one location, neighbours and GPI doors name locations.

They run on the plain data (the YAML as loaded, or a valid config dumped), read as far as it can be read,
so ``dockgate check-config`` reports them together with the type errors of the same file. What cannot be
read is left to the type errors: a reader without a readable name, say, makes "no reader named ..." unsure,
so that check is skipped rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drivers.registry import READER_TYPES

Problem = tuple[str, str]
"""(field path, what is wrong)."""


class CrossReferenceError(ValueError):
    """Raised by the config's validator: pydantic carries it to the loader, which lists its problems."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in problems))
        self.problems = problems


@dataclass(frozen=True)
class _Reader:
    name: str | None
    kind: str | None  # "rfid" or "scanner"; None: the type is not known
    antennas: list[int] | None  # None: cannot be read
    gpi_location: str | None


@dataclass(frozen=True)
class _Point:
    reader: str | None
    antennas: list[int] | None  # None: all of the reader's (or, when ``given``, cannot be read)
    given: bool


@dataclass(frozen=True)
class _Location:
    name: str | None
    neighbours: list[str | None]
    points: list[_Point]
    lights_reader: str | None = None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _antennas(value: object) -> list[int] | None:
    if isinstance(value, list) and all(isinstance(a, int) and not isinstance(a, bool) for a in value):
        return value
    return None


def _items(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _reader(item: object) -> _Reader:
    if not isinstance(item, dict):
        return _Reader(None, None, None, None)
    name = _text(item.get("name"))
    kind = item.get("type")
    entry = READER_TYPES.get(kind) if isinstance(kind, str) else None
    if entry is None:
        return _Reader(name, None, None, None)
    fields = entry.settings.model_fields
    if "antennas" in item:
        antennas = _antennas(item["antennas"])
    elif "antennas" in fields:
        antennas = _antennas(fields["antennas"].get_default(call_default_factory=True))
    else:
        antennas = []
    gpi = item.get("gpi") if "gpi" in fields else None
    return _Reader(name, entry.settings.kind, antennas, _text(gpi.get("location")) if isinstance(gpi, dict) else None)


def _point(item: object) -> _Point:
    if not isinstance(item, dict):
        return _Point(None, None, False)
    given = item.get("antennas") is not None
    return _Point(_text(item.get("reader")), _antennas(item.get("antennas")), given)


def _location(item: object) -> _Location:
    if not isinstance(item, dict):
        return _Location(None, [], [])
    neighbours = [_text(n) for n in _items(item.get("neighbours"))]
    lights = item.get("lights")
    lights_reader = _text(lights.get("reader")) if isinstance(lights, dict) else None
    points = [_point(p) for p in _items(item.get("read_points"))]
    return _Location(_text(item.get("name")), neighbours, points, lights_reader)


def cross_reference_problems(data: dict[str, Any]) -> list[Problem]:
    """Every cross-reference problem in ``data`` (the config as plain data) that can be told for sure."""
    raw_readers, raw_locations = data.get("readers"), data.get("locations")
    readers = [_reader(r) for r in _items(raw_readers)]
    locations = [_location(loc) for loc in _items(raw_locations)]
    # "no such name" only when every name of that kind could be read
    all_readers = isinstance(raw_readers, list) and all(r.name is not None for r in readers)
    all_locations = isinstance(raw_locations, list) and all(loc.name is not None for loc in locations)
    problems: list[Problem] = []
    by_name: dict[str, _Reader] = {}
    for i, reader in enumerate(readers):
        if reader.name is None:
            continue
        if reader.name in by_name:
            problems.append((f"readers[{i}].name", f"duplicate reader name {reader.name!r}"))
        by_name.setdefault(reader.name, reader)
    location_names = {loc.name for loc in locations if loc.name is not None}
    known_locations = ", ".join(sorted(location_names))
    for i, reader in enumerate(readers):
        if all_locations and reader.gpi_location is not None and reader.gpi_location not in location_names:
            problems.append(
                (
                    f"readers[{i}].gpi.location",
                    f"no location named {reader.gpi_location!r} (locations: {known_locations})",
                )
            )
    seen: set[str] = set()
    owners = _Owners()
    for i, location in enumerate(locations):
        if location.name is not None:
            if location.name in seen:
                problems.append((f"locations[{i}].name", f"duplicate location name {location.name!r}"))
            seen.add(location.name)
        for j, neighbour in enumerate(location.neighbours):
            where = f"locations[{i}].neighbours[{j}]"
            if neighbour is not None and neighbour == location.name:
                problems.append((where, "a location cannot be its own neighbour"))
            elif all_locations and neighbour is not None and neighbour not in location_names:
                problems.append((where, f"no location named {neighbour!r} (locations: {known_locations})"))
        if location.lights_reader is not None and all_readers and location.lights_reader not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            problems.append(
                (f"locations[{i}].lights.reader", f"no reader named {location.lights_reader!r} (readers: {known})")
            )
        for j, point in enumerate(location.points):
            where = f"locations[{i}].read_points[{j}]"
            found = by_name.get(point.reader) if point.reader is not None else None
            if found is None:
                if point.reader is not None and all_readers:
                    known = ", ".join(sorted(by_name)) or "none"
                    problems.append((f"{where}.reader", f"no reader named {point.reader!r} (readers: {known})"))
                continue
            problems += owners.claim(where, i, location.name or f"locations[{i}]", point, found)
    return problems


class _Owners:
    """Which location each antenna of a reader, and each scanner, belongs to (the first to name it)."""

    def __init__(self) -> None:
        self.antennas: dict[tuple[str, int], tuple[int, str]] = {}
        self.scanners: dict[str, tuple[int, str]] = {}

    def claim(self, where: str, index: int, location: str, point: _Point, reader: _Reader) -> list[Problem]:
        name = reader.name
        assert name is not None
        if reader.kind == "scanner":
            problems: list[Problem] = []
            if point.given:
                problems.append((f"{where}.antennas", f"{name!r} is a scanner: a scanner read point has no antennas"))
            taken_by, taken = self.scanners.setdefault(name, (index, location))
            if taken_by != index:
                problems.append((f"{where}.reader", f"scanner {name!r} already belongs to location {taken!r}"))
            return problems
        if reader.kind is None or reader.antennas is None or (point.given and point.antennas is None):
            return []  # cannot be read: the type errors say why
        problems = []
        for antenna in point.antennas if point.antennas is not None else reader.antennas:
            if antenna not in reader.antennas:
                problems.append(
                    (
                        f"{where}.antennas",
                        f"antenna {antenna} is not among reader {name!r}'s antennas {reader.antennas}",
                    )
                )
                continue
            taken_by, taken = self.antennas.setdefault((name, antenna), (index, location))
            if taken_by != index:
                problems.append(
                    (f"{where}.antennas", f"antenna {antenna} of reader {name!r} already belongs to location {taken!r}")
                )
        return problems
