"""Recordings: LLRP tag report streams recorded from a scenario, replayed to a client.

(Not to be confused with ``gateway``'s scenario runs on simulated time: this is bytes on the wire.)

A recording is a plain LLRP byte stream: RO_ACCESS_REPORT messages back to back, exactly as a reader
sends them (``dockgate simulate llrp --record FILE`` writes one, ``--replay FILE`` plays it). Recorded
frames are sent as they are, message ids and reader timestamps included; the gateway runs its presence
logic on its own clock, so old timestamps change nothing.

Replay starts when the client's ROSpec starts and loops over the file until the ROSpec stops: at full
speed (as fast as the socket takes the bytes, in chunks of about 64 KiB) or paced at ``rate`` reads/s
(whole reports, each sent when the reads before it are due).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simulators.llrp import frames as f
from simulators.llrp.scenario import ReadStream, Scenario

REPLAY_SELECTOR = f.ContentSelector(
    antenna_id=True, peak_rssi=True, first_seen=True, last_seen=True, tag_seen_count=True
)
"""What recordings carry per tag: the driver's default ``report_fields``."""

_CHUNK_BYTES = 64 * 1024
_HEADER = struct.Struct("!HII")
_TLV = struct.Struct("!HH")


class RecordingError(ValueError):
    """A file that is not a stream of whole LLRP messages."""


@dataclass(frozen=True)
class Recording:
    """Whole LLRP messages and how many TagReportData each holds."""

    frames: tuple[bytes, ...]
    reads: tuple[int, ...]

    @property
    def total_reads(self) -> int:
        return sum(self.reads)

    @property
    def total_bytes(self) -> int:
        return sum(len(frame) for frame in self.frames)

    def to_bytes(self) -> bytes:
        return b"".join(self.frames)

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "recording") -> Recording:
        frames: list[bytes] = []
        reads: list[int] = []
        pos, end = 0, len(data)
        while pos < end:
            if end - pos < f.HEADER_SIZE:
                raise RecordingError(f"{where}: truncated message header at byte {pos}")
            word, length, _msg_id = _HEADER.unpack_from(data, pos)
            if (word >> 10) & 0x7 != 1 or length < f.HEADER_SIZE or pos + length > end:
                raise RecordingError(f"{where}: bad LLRP message at byte {pos} (length {length})")
            frame = data[pos : pos + length]
            frames.append(frame)
            reads.append(_tag_reports_in(frame) if word & 0x3FF == f.RO_ACCESS_REPORT else 0)
            pos += length
        if not frames:
            raise RecordingError(f"{where}: empty")
        return cls(tuple(frames), tuple(reads))

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise RecordingError(f"{path}: cannot read: {exc.strerror}") from exc
        return cls.from_bytes(data, str(path))


def _tag_reports_in(frame: bytes) -> int:
    count, pos, end = 0, f.HEADER_SIZE, len(frame)
    while end - pos >= 4:
        ptype, length = _TLV.unpack_from(frame, pos)
        if length < 4:
            break
        if ptype & 0x3FF == f.P_TAG_REPORT_DATA:
            count += 1
        pos += length
    return count


def record(
    scenario: Scenario,
    tags_per_report: int = 100,
    selector: f.ContentSelector = REPLAY_SELECTOR,
    epoch_s: float = 1_795_940_100.0,
) -> Recording:
    """Every read of ``scenario`` (all antennas), encoded with the simulator's own encoders, in
    RO_ACCESS_REPORTs of ``tags_per_report`` reads (the last one may hold fewer)."""
    if tags_per_report < 1:
        raise ValueError(f"tags_per_report: expected >= 1, got {tags_per_report}")
    reads = ReadStream(scenario).reads_until(scenario.duration_s + 1.0)
    encoder = f.TagReportEncoder(selector, rospec_id=1)
    encode, prefix = encoder.encode, encoder.prefix
    frames: list[bytes] = []
    counts: list[int] = []
    for start in range(0, len(reads), tags_per_report):
        chunk = reads[start : start + tags_per_report]
        params = [encode(prefix(r.epc), r.antenna, r.rssi, int((epoch_s + r.t_s) * 1_000_000)) for r in chunk]
        frames.append(f.ro_access_report(len(frames) + 1, params))
        counts.append(len(chunk))
    if not frames:
        raise ValueError(f"scenario {scenario.name!r} produces no reads")
    return Recording(tuple(frames), tuple(counts))


class ReplayCursor:
    """Where one client's replay stands. ``pump()`` sends what is due; ``wait_s()`` says how long the
    session may sleep before the next send."""

    def __init__(self, recording: Recording, rate: float | None, now: float) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate: expected reads/s > 0, got {rate}")
        self.rate = rate
        self.started = now
        self.reads_sent = 0
        self._next = 0
        if rate is None:  # full speed: few large writes
            self._units = _chunks(recording, _CHUNK_BYTES)
        else:  # paced: one report at a time
            self._units = list(zip(recording.frames, recording.reads, strict=True))

    def wait_s(self, now: float) -> float:
        if self.rate is None:
            return 0.0
        due = self.started + self.reads_sent / self.rate
        return max(0.0, due - now)

    def pump(self, send: Callable[[bytes], None], now: float, budget_s: float = 0.02) -> int:
        """Send what is due (full speed: for about ``budget_s``); returns the reads sent."""
        units = self._units
        sent = 0
        stop_at = time.monotonic() + budget_s
        while True:
            if self.rate is not None and self.reads_sent > (now - self.started) * self.rate:
                break
            data, reads = units[self._next]
            send(data)
            self._next = (self._next + 1) % len(units)
            self.reads_sent += reads
            sent += reads
            if self.rate is None and time.monotonic() >= stop_at:
                break
        return sent


def _chunks(recording: Recording, size: int) -> list[tuple[bytes, int]]:
    out: list[tuple[bytes, int]] = []
    parts: list[bytes] = []
    length = reads = 0
    for frame, count in zip(recording.frames, recording.reads, strict=True):
        parts.append(frame)
        length += len(frame)
        reads += count
        if length >= size:
            out.append((b"".join(parts), reads))
            parts, length, reads = [], 0, 0
    if parts:
        out.append((b"".join(parts), reads))
    return out
