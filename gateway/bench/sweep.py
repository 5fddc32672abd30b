"""``dockgate bench accuracy --sweep``: the generated doors of ``simulators/llrp/scenario/physics.py`` over a
grid of wall attenuation, noise, read loss and speed, several seeds each, scored like the library.

It prints, per grid point, the mean precision, recall, location and direction accuracy and the arrival
latency p95 over the seeds, marking what falls below 0.99 (precision, recall, location) or 0.95
(direction): the map of where the gateway can be trusted. Then the calibration of
``direction_confidence`` over every matched departure of the sweep: per confidence band, how many
were right.
"""

from __future__ import annotations

import itertools
import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from gateway.bench.accuracy import Score, score_events
from gateway.bench.pipeline_run import replay
from simulators.llrp.scenario.physics import DoorModel, generate

GRID = {
    "wall_db": (3.0, 6.0, 10.0, 14.0, 20.0),
    "noise_db": (2.0, 5.0, 8.0, 10.0),
    "read_loss": (0.0, 0.3, 0.6, 0.7),
    "speed_mps": (0.5, 1.5, 3.0),
}
QUICK_GRID = {"wall_db": (3.0, 6.0, 14.0), "noise_db": (2.0, 8.0), "read_loss": (0.0, 0.6), "speed_mps": (1.5, 3.0)}
SEEDS = 3
GOOD = {"precision": 0.99, "recall": 0.99, "location": 0.99, "direction": 0.95}
BANDS = ((0.0, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.01))


@dataclass
class Point:
    wall_db: float
    noise_db: float
    read_loss: float
    speed_mps: float
    seeds: int
    precision: float
    recall: float
    location: float
    direction: float
    arrive_p95_s: float

    def failing(self) -> list[str]:
        return [name for name, floor in GOOD.items() if getattr(self, name) < floor]


def run_point(model: DoorModel, seeds: Iterable[int], calibration: list[tuple[float, bool]]) -> Point:
    scores: list[Score] = []
    for seed in seeds:
        scenario = generate(model.with_(seed=seed))
        result = replay(scenario)
        scores.append(score_events(scenario, result.events, result.reads, result.dropped, calibration))

    def mean(values: Sequence[float | None]) -> float:
        known = [v for v in values if v is not None]
        return round(statistics.fmean(known), 4) if known else 1.0

    return Point(
        model.wall_db,
        model.noise_db,
        model.read_loss,
        model.speed_mps,
        len(scores),
        mean([s.precision for s in scores]),
        mean([s.recall for s in scores]),
        mean([s.location_accuracy for s in scores]),
        mean([s.direction_accuracy for s in scores]),
        max((s.arrival_latency_p95_s or 0.0) for s in scores),
    )


def sweep(grid: dict[str, tuple[float, ...]], seeds: int) -> tuple[list[Point], list[tuple[float, bool]]]:
    calibration: list[tuple[float, bool]] = []
    points = []
    names = list(grid)
    for values in itertools.product(*(grid[n] for n in names)):
        model = DoorModel(**dict(zip(names, values, strict=True)))  # type: ignore[arg-type]
        points.append(run_point(model, range(1, seeds + 1), calibration))
    return points, calibration


def calibration_table(pairs: Sequence[tuple[float, bool]]) -> list[tuple[str, int, float | None]]:
    """(band, departures, fraction right) per confidence band."""
    out = []
    for lo, hi in BANDS:
        inside = [right for conf, right in pairs if lo <= conf < hi]
        out.append(
            (f"{lo:.2f}-{min(hi, 1.0):.2f}", len(inside), round(sum(inside) / len(inside), 3) if inside else None)
        )
    return out


def trust_map(points: Sequence[Point]) -> str:
    """The map as a markdown table: a row per wall and noise, a column per read loss and speed; each
    cell ``ok`` or the initials of what falls below (P precision, R recall, L location, D direction)."""
    losses = sorted({p.read_loss for p in points})
    speeds = sorted({p.speed_mps for p in points})
    cells = {(p.wall_db, p.noise_db, p.read_loss, p.speed_mps): p for p in points}
    columns = [(loss, speed) for loss in losses for speed in speeds]
    lines = [
        "| wall dB | noise dB | " + " | ".join(f"{loss:.0%} {speed:g} m/s" for loss, speed in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for wall, noise in sorted({(p.wall_db, p.noise_db) for p in points}):
        row = []
        for loss, speed in columns:
            point = cells.get((wall, noise, loss, speed))
            row.append("" if point is None else "".join(f[0].upper() for f in point.failing()) or "ok")
        lines.append(f"| {wall:g} | {noise:g} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def report(points: Sequence[Point], pairs: Sequence[tuple[float, bool]], as_json: bool = False) -> str:
    if as_json:
        return json.dumps({"points": [asdict(p) for p in points], "calibration": calibration_table(pairs)}, indent=2)
    header = (
        f"{'wall dB':>7} {'noise dB':>8} {'loss':>5} {'m/s':>4} {'precision':>9} {'recall':>7} {'location':>8} "
        f"{'direction':>9} {'arrive p95 s':>12}  below"
    )
    lines = [header, "-" * len(header)]
    for p in points:
        lines.append(
            f"{p.wall_db:>7g} {p.noise_db:>8g} {p.read_loss:>5.0%} {p.speed_mps:>4g} {p.precision:>9.3f} "
            f"{p.recall:>7.3f} {p.location:>8.3f} {p.direction:>9.3f} {p.arrive_p95_s:>12.2f}  {' '.join(p.failing())}"
        )
    lines.append("\nthe map (P precision, R recall, L location below 0.99; D direction below 0.95):\n")
    lines.append(trust_map(points))
    trusted = sum(1 for p in points if not p.failing())
    lines.append(f"\n{trusted} of {len(points)} grid points hold 0.99 / 0.95 (seeds per point: {points[0].seeds})")
    lines.append("\ndirection_confidence calibration (matched departures of the whole sweep):")
    lines.append(f"{'confidence':>10} {'departures':>10} {'right':>6}")
    for band, count, right in calibration_table(pairs):
        lines.append(f"{band:>10} {count:>10} {'-' if right is None else f'{right:.3f}':>6}")
    return "\n".join(lines)
