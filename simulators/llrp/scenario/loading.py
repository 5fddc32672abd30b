"""Scenario files -> ``Scenario``: read the YAML, check it against the file format, resolve what needs the
whole file, and say what is wrong with the path of the field in the file.

An error names its path as a reader of the file would look it up (``pallets[1].visits[0].end: must be
after start``). The format's models report every problem they find at once; the rules that need the whole
file run only on a file of the right shape and stop at the first problem.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from simulators.llrp.durations import ScenarioError
from simulators.llrp.scenario.file_format import (
    FieldError,
    Gap,
    PalletEntry,
    ScenarioFile,
    StaticTagEntry,
    VisitEntry,
)
from simulators.llrp.scenario.model import Pallet, Scenario, StaticTag, Visit


def default_scenario_path() -> Path:
    """The packaged default scenario; the other packaged examples are in the same folder."""
    return Path(str(resources.files("simulators.llrp") / "examples" / "default.yaml"))


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read scenario file: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    return scenario_from_dict(data, default_name=path.stem)


def scenario_from_dict(data: object, default_name: str = "scenario") -> Scenario:
    """A scenario from parsed YAML (or a dict written in code); ScenarioError names each problem's path."""
    try:
        file = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError("\n".join(_describe(error) for error in exc.errors(include_url=False))) from exc
    return _resolve(file, default_name)


# ---- what needs the whole file -----------------------------------------------------------------------


def _resolve(file: ScenarioFile, default_name: str) -> Scenario:
    duration = file.duration
    if not file.pallets and not file.static_tags:
        raise ScenarioError("pallets: expected a non-empty list of pallets")
    pallets = tuple(_pallet(p, f"pallets[{i}]", duration) for i, p in enumerate(file.pallets or ()))
    if duration is None and not pallets:
        raise ScenarioError("duration: required when there are static tags but no pallets")
    end = duration if duration is not None else max(v.end_s for p in pallets for v in p.visits)
    static_tags = tuple(
        _static_tag(t, f"static_tags[{i}]", end, f"static-{i + 1}") for i, t in enumerate(file.static_tags)
    )
    owners = [(f"pallets[{i}].tags", p.name, p.epcs) for i, p in enumerate(pallets)]
    owners += [(f"static_tags[{i}]", t.name, t.epcs) for i, t in enumerate(static_tags)]
    seen: dict[str, str] = {}
    for path, owner, epcs in owners:
        for epc in epcs:
            if epc in seen:
                raise ScenarioError(f"{path}: EPC {epc} is also on {seen[epc]}")
            seen[epc] = owner
    return Scenario(
        name=file.name if file.name is not None else default_name,
        description=file.description,
        pallets=pallets,
        read_rate=file.read_rate,
        rssi_noise_db=file.rssi_noise_db,
        drop_rate=file.drop_rate,
        seed=file.seed,
        min_rssi=file.min_rssi,
        duration=duration,
        static_tags=static_tags,
        category=file.category,
        site=file.site,
        shipments=tuple(file.shipments or ()),
        faults=tuple(f.fault() for f in file.faults),
        gpi=tuple(g.pulse() for g in file.gpi),
    )


def _pallet(entry: PalletEntry, path: str, duration: float | None) -> Pallet:
    visits = tuple(_visit(v, f"{path}.visits[{i}]", duration) for i, v in enumerate(entry.visits))
    return Pallet(entry.name, entry.location, tuple(entry.epcs()), visits)


def _visit(entry: VisitEntry, path: str, duration: float | None) -> Visit:
    start = entry.start
    if entry.end == "open":
        if duration is None:
            raise ScenarioError(f"{path}.end: 'open' needs a top-level duration")
        end = duration
    else:
        end = entry.end
    if end <= start:
        raise ScenarioError(f"{path}.end: must be after start ({end:g}s <= {start:g}s)")
    if duration is not None and end > duration:
        raise ScenarioError(f"{path}.end: after the scenario duration ({end:g}s > {duration:g}s)")
    antennas, profiles = _peaks_and_profiles(entry.antennas)
    return Visit(
        start,
        end,
        antennas,
        entry.direction,
        profiles=profiles,
        gaps=_gaps(entry.gaps, f"{path}.gaps", start, end),
        stray=entry.stray,
        open_end=duration is not None and end == duration,
        read_rate=entry.read_rate,
    )


def _static_tag(entry: StaticTagEntry, path: str, end: float, default_name: str) -> StaticTag:
    antennas, profiles = _peaks_and_profiles(entry.antennas)
    return StaticTag(
        name=entry.name if entry.name is not None else default_name,
        location=entry.location,
        epcs=tuple(entry.epcs()),
        antennas=antennas,
        profiles=profiles,
        gaps=_gaps(entry.gaps, f"{path}.gaps", 0.0, end),
        read_rate=entry.read_rate,
    )


def _peaks_and_profiles(
    antennas: dict[int, float | list[float]],
) -> tuple[dict[int, float], dict[int, tuple[float, ...]]]:
    """A profile's antenna is listed with its peak RSSI too: the strongest the tag is seen there."""
    peaks: dict[int, float] = {}
    profiles: dict[int, tuple[float, ...]] = {}
    for antenna, rssi in antennas.items():
        if isinstance(rssi, list):
            profiles[antenna] = tuple(rssi)
            peaks[antenna] = max(rssi)
        else:
            peaks[antenna] = rssi
    return peaks, profiles


def _gaps(gaps: list[Gap], path: str, start: float, end: float) -> tuple[tuple[float, float], ...]:
    for i, gap in enumerate(gaps):
        if gap.start < start or gap.end > end:
            raise ScenarioError(
                f"{path}[{i}]: must lie within the visit {start:g}s-{end:g}s "
                "(gap times are scenario times, not relative to the visit)"
            )
    return tuple(sorted((gap.start, gap.end) for gap in gaps))


# ---- pydantic's errors in the words of the file ---------------------------------------------------------

_WORDING = {
    "missing": "required",
    "float_type": "expected a number, got {input!r}",
    "int_type": "expected an integer, got {input!r}",
    "string_type": "expected a string, got {input!r}",
    "bool_type": "expected true or false, got {input!r}",
    "list_type": "expected a list, got {input!r}",
    "dict_type": "expected a mapping, got {input!r}",
    "literal_error": "expected {expected}, got {input!r}",
    "too_short": "must not be empty",
    "greater_than": "must be > {gt:g}, got {input!r}",
    "greater_than_equal": "must be >= {ge:g}, got {input!r}",
    "less_than": "must be < {lt:g}, got {input!r}",
    "less_than_equal": "must be <= {le:g}, got {input!r}",
}


def _describe(error: ErrorDetails) -> str:
    """``path: what is wrong`` for one of pydantic's errors."""
    loc = list(error["loc"])
    if "[key]" in loc:  # a bad mapping key: the path is the mapping's
        loc = loc[: loc.index("[key]") - 1]
    ctx = dict(error.get("ctx") or {})
    cause = ctx.get("error")
    if isinstance(cause, FieldError):
        loc.append(cause.field)
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.isidentifier():
            path += f".{part}" if path else part
        # anything else is pydantic's name for a union member ("RSSI profile"): not a field of the file
    if isinstance(cause, ValueError):
        message = str(cause)
    elif error["type"] in _WORDING:
        if "expected" in ctx:  # "'in' or 'out'": the file's words are unquoted
            ctx["expected"] = str(ctx["expected"]).replace("'", "")
        message = _WORDING[error["type"]].format(input=error.get("input"), **ctx)
    else:
        message = error["msg"]
    return f"{path or 'scenario'}: {message}"
