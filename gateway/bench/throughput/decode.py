"""Part 2: decoding alone, in this process, on the frames of the same stream: sllurp's decoder (what
sllurp's client does per message), and the LLRP driver's fast path for comparison."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from simulators.llrp.recording import Recording

_FRAMES_PER_ROUND = 200


def _decode_rate(recording: Recording, seconds: float, decode: Callable[[bytes], object]) -> dict[str, Any]:
    """``decode`` on every frame with reads, round after round for ``seconds``: reads/s and CPU per read."""
    frames = [(frame, n) for frame, n in zip(recording.frames, recording.reads, strict=True) if n]
    reads = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        for frame, n in frames[:_FRAMES_PER_ROUND]:
            decode(frame)
            reads += n
        frames = frames[_FRAMES_PER_ROUND:] + frames[:_FRAMES_PER_ROUND]
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"reads_per_s": round(reads / elapsed), "cpu_us_per_read": round(cpu / reads * 1e6, 2)}


def bench_sllurp_decode(recording: Recording, seconds: float) -> dict[str, Any]:
    from sllurp.llrp import LLRPMessage

    return _decode_rate(recording, seconds, lambda frame: LLRPMessage(msgbytes=frame))  # the whole message


def bench_own_decode(recording: Recording, seconds: float) -> dict[str, Any]:
    """The driver's fast path on the same frames."""
    from drivers.llrp.wire import decode_tag_reports

    return _decode_rate(recording, seconds, decode_tag_reports)
