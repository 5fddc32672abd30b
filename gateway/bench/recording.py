"""A door's own reads, recorded by ``dockgate run --record FILE`` and scored against what the site engineer
saw: ``dockgate bench accuracy --recording FILE --truth FILE --config FILE [--set pipeline.KEY=VALUE]``.

The recording is JSON lines, one per tag read as the gateway took it (before the pipeline):
``{"t": 1796800000.123, "reader": "portal-3", "antenna": 2, "epc": "3034...", "rssi": -58.0}``. Scans
are not recorded. The truth is a YAML list of visits, times in seconds from the first recorded read:

    - {epcs: [3034257BF7194E4000001A85], location: dock-3, start: 12.0, end: 17.5, direction: in}

The reads are replayed through the pipeline of the config (with the ``--set`` changes) on the recorded
clock, and scored like the library (``gateway.bench.accuracy``), so a setting can be tried on the door
it is meant for before it is deployed there.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import IO, Any

import yaml

from gateway.bench.accuracy import Score, score_events
from gateway.bench.pipeline_run import EPOCH, run_turns
from gateway.config import Config
from gateway.core.pipeline import Pipeline
from gateway.domain.errors import DockgateError
from gateway.domain.model import LocationEvent, ScanRead, TagRead
from simulators.llrp.scenario.model import Pallet, Scenario, Visit


class RecordingError(DockgateError):
    """A recording or truth file that cannot be used; the message says which line and why."""


class ReadRecorder:
    """A read tap (``Gateway.tap_reads``) that appends every tag read to a file, flushed each batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self.reads = 0

    def __call__(self, batch: list[TagRead]) -> None:
        if not batch or isinstance(batch[0], ScanRead):
            return
        lines = "".join(
            json.dumps({"t": r.time, "reader": r.reader, "antenna": r.antenna, "epc": r.epc, "rssi": r.rssi}) + "\n"
            for r in batch
        )
        with self._lock:
            self._file.write(lines)
            self._file.flush()
            self.reads += len(batch)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def load_reads(path: Path) -> list[TagRead]:
    reads = []
    with path.open(encoding="utf-8") as source:
        for n, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                reads.append(
                    TagRead(str(doc["reader"]), int(doc["antenna"]), str(doc["epc"]), doc.get("rssi"), float(doc["t"]))
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise RecordingError(f"{path}:{n}: not a recorded read ({exc}): {line.strip()[:80]}") from None
    if not reads:
        raise RecordingError(f"{path}: no reads recorded")
    return sorted(reads, key=lambda r: r.time)


def load_truth(path: Path, name: str) -> Scenario:
    try:
        rows = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RecordingError(f"{path}: {exc}") from None
    if not isinstance(rows, list) or not rows:
        raise RecordingError(f"{path}: expected a list of visits ({{epcs, location, start, end, direction}})")
    pallets = []
    for i, row in enumerate(rows):
        try:
            epcs = tuple(str(e).upper() for e in row["epcs"])
            visit = Visit(float(row["start"]), float(row["end"]), {}, row.get("direction"))
            pallets.append(Pallet(f"visit-{i}", str(row["location"]), epcs, (visit,)))
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordingError(f"{path}: visit {i}: {exc!r} (give epcs, location, start, end)") from None
    return Scenario(name=name, description=f"recorded: {name}", pallets=tuple(pallets), category="recorded")


class RecordedReads:
    """A recording as a replay's read source: time 0 is the first read."""

    def __init__(self, reads: list[TagRead]) -> None:
        t0 = reads[0].time
        self._reads = [TagRead(r.reader, r.antenna, r.epc, r.rssi, EPOCH + r.time - t0) for r in reads]
        self._next = 0
        self.end_s = self._reads[-1].time - EPOCH

    def until(self, t: float) -> list[TagRead]:
        start = stop = self._next
        reads = self._reads
        while stop < len(reads) and reads[stop].time <= EPOCH + t:
            stop += 1
        self._next = stop
        return reads[start:stop]


def replay_recording(reads: list[TagRead], config: Config) -> list[LocationEvent]:
    """The reads through a fresh pipeline, turn by turn on the recorded clock shifted to the replay's epoch,
    then on until every visit could depart."""
    source = RecordedReads(reads)
    return run_turns(Pipeline(config), source, source.end_s + config.pipeline.depart_after + 1.0).events


def score_recording(recording: Path, truth: Path, config: Config, changes: dict[str, Any]) -> Score:
    if changes:
        data = config.model_dump(mode="json")
        for dotted, value in changes.items():
            section, _, key = dotted.partition(".")
            if not key or not isinstance(data.get(section), dict):
                raise RecordingError(f"--set {dotted}: expected SECTION.KEY=VALUE, e.g. pipeline.arbitration_lead=5")
            data[section][key] = value
        config = Config.model_validate(data)
    reads = load_reads(recording)
    scenario = load_truth(truth, recording.stem)
    return score_events(scenario, replay_recording(reads, config), len(reads))
