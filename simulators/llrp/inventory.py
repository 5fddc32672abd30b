"""A running ROSpec: the scenario's reads as TagReportData, buffered until a report is due.

When reports are due follows the ROSpec's ROReportSpec (or the reader's, from SET_READER_CONFIG): every N
tags, every N seconds or milliseconds, when a tag observation trigger or an AISpec duration ends. Scenario
time runs ``speed`` times real time from the moment the ROSpec starts; with ``loop`` the scenario starts
over when it ends, with wall-clock timestamps running on. With a recording to replay, the session streams
that instead and this only keeps the ROSpec's timing.
"""

from __future__ import annotations

import logging
import time

from simulators.llrp import frames as f
from simulators.llrp.capabilities import ReaderConfig
from simulators.llrp.reader import Reader
from simulators.llrp.recording import ReplayCursor
from simulators.llrp.rospec import ROSpec
from simulators.llrp.scenario import ReadStream, TagRead

log = logging.getLogger("simulators.llrp")

# ROReportTrigger values (section 16.2.7.1)
_UPON_N_TAGS = (1, 2)
_UPON_N_SECONDS = (3, 4)
_UPON_N_MILLISECONDS = (5, 6)


class Inventory:
    """One ROSpec's inventory on one connection; the session's thread owns it."""

    def __init__(self, rospec: ROSpec, config: ReaderConfig, reader: Reader, peer: str, now: float) -> None:
        trigger = rospec.report_trigger if rospec.report_trigger is not None else config.ro_report_trigger
        n = rospec.report_n if rospec.report_trigger is not None else config.ro_report_n
        every_s = rospec.observation_timeout_ms / 1000.0
        if trigger in _UPON_N_MILLISECONDS and n:
            every_s = n / 1000.0
        elif trigger in _UPON_N_SECONDS and n:
            every_s = float(n)
        elif not every_s and rospec.ai_duration_ms:
            every_s = rospec.ai_duration_ms / 1000.0  # each AISpec run ends and reports
        self.rospec = rospec
        self.reader = reader
        self.peer = peer
        self.report_n = n if trigger in _UPON_N_TAGS and n else rospec.observation_n  # 0: not by count
        self.report_every_s = every_s  # 0: not by time
        self.stop_at = now + rospec.stop_duration_ms / 1000.0 if rospec.stop_duration_ms else None
        self.last_report = now
        self.buffer: list[bytes] = []  # encoded TagReportData not reported yet
        self.scenario_time = 0.0
        self.replay = ReplayCursor(reader.replay, reader.replay_rate, now) if reader.replay is not None else None
        self._stream = ReadStream(reader.scenario, reader.antennas_of(rospec))
        self._encoder = f.TagReportEncoder(rospec.selector or config.selector, rospec_id=rospec.rospec_id)
        self._mono_start = now
        self._epoch_start = time.time()

    def collect(self, now: float) -> None:
        """Encode the reads the scenario has made by ``now`` into the buffer."""
        reader = self.reader
        scenario_now = (now - self._mono_start) * reader.speed
        duration = reader.scenario.duration_s
        while reader.loop and duration > 0 and scenario_now >= duration:
            self._encode(self._stream.reads_until(duration))
            # Restart the scenario; keep wall time continuous.
            self._mono_start += duration / reader.speed
            self._epoch_start += duration / reader.speed
            self._stream = ReadStream(reader.scenario, reader.antennas_of(self.rospec))
            scenario_now -= duration
            log.info("event=scenario_restarted peer=%s scenario=%s", self.peer, reader.scenario.name)
        self._encode(self._stream.reads_until(scenario_now))
        self.scenario_time = scenario_now

    def take(self, count: int) -> list[bytes]:
        """Up to ``count`` buffered TagReportData, oldest first, for one RO_ACCESS_REPORT."""
        chunk = self.buffer[:count]
        del self.buffer[:count]
        return chunk

    def _encode(self, reads: list[TagRead]) -> None:
        if not reads:
            return
        encoder = self._encoder
        encode = encoder.encode
        prefix = encoder.prefix
        epoch = self._epoch_start
        speed = self.reader.speed
        append = self.buffer.append
        off = self.reader.disconnected_antennas  # an unplugged antenna reads nothing
        for r in reads:
            if off and r.antenna in off:
                continue
            append(encode(prefix(r.epc), r.antenna, r.rssi, int((epoch + r.t_s / speed) * 1_000_000)))
