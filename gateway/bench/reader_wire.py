"""A scenario's reads as a reader type hands them to the core: encoded by that type's simulator, decoded by
its driver, so `replay` (and the accuracy scores) can go through either reader type (issue 19).

Each turn of the replay's clock, the reads due are one message on that reader's wire (an RO_ACCESS_REPORT;
chunks of JSON lines of the HTTP stream), decoded by the driver's own decoder and stamped with the turn's
time, as a driver stamps a batch when its bytes arrive. ``direct`` (the scenario's reads as ``TagRead``s,
each at its own time) stays the default of `replay`.
"""

from __future__ import annotations

from gateway.domain.model import TagRead
from simulators.llrp.scenario import ReadStream, Scenario

READER_TYPES = ("direct", "llrp", "impinj-iot")


class WireReads:
    """``until(t)``: the reads with scenario time < t not given before, through ``reader_type``'s wire."""

    def __init__(self, scenario: Scenario, reader: str, reader_type: str, epoch: float) -> None:
        if reader_type not in READER_TYPES[1:]:
            raise ValueError(f"reader type: expected one of {', '.join(READER_TYPES)}, got {reader_type!r}")
        self._stream = ReadStream(scenario)
        self._reader = reader
        self._type = reader_type
        self._epoch = epoch
        self._frames = 0
        if reader_type == "llrp":
            from drivers.llrp.wire import TagReadDecoder
            from simulators.llrp import frames
            from simulators.llrp.recording import REPLAY_SELECTOR

            self._encoder = frames.TagReportEncoder(REPLAY_SELECTOR, rospec_id=1)
            self._report = frames.ro_access_report
            self._llrp = TagReadDecoder(reader)
        else:
            from drivers.impinj_iot.events import LineDecoder
            from drivers.impinj_iot.http import ChunkedBody
            from simulators.impinj_iot.encoding import TagLines

            self._lines = TagLines()
            self._body = ChunkedBody()
            self._json = LineDecoder(reader)

    def until(self, t: float) -> list[TagRead]:
        due = self._stream.reads_until(t)
        if not due:
            return []
        now = self._epoch + t
        if self._type == "llrp":
            encode, prefix = self._encoder.encode, self._encoder.prefix
            self._frames += 1
            tags = [encode(prefix(r.epc), r.antenna, r.rssi, int((self._epoch + r.t_s) * 1e6)) for r in due]
            return self._llrp.decode(self._report(self._frames, tags), now)
        line = self._lines.line
        data = b"".join(
            b"%x\r\n%s\r\n" % (len(raw), raw)
            for raw in (line(r.epc, r.antenna, r.rssi, self._epoch + r.t_s, 902750, 0.0).encode() + b"\n" for r in due)
        )
        return self._json.feed(self._body.feed(data), now).reads
