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
from simulators.llrp.report_quirks import report_timing, reported_epc, with_custom_params
from simulators.llrp.rospec import ROSpec
from simulators.llrp.scenario import ReadStream, TagRead

log = logging.getLogger("simulators.llrp")


class Inventory:
    """One ROSpec's inventory on one connection; the session's thread owns it."""

    def __init__(self, rospec: ROSpec, config: ReaderConfig, reader: Reader, peer: str, now: float) -> None:
        trigger = rospec.report_trigger if rospec.report_trigger is not None else config.ro_report_trigger
        n = rospec.report_n if rospec.report_trigger is not None else config.ro_report_n
        report_n, every_s = report_timing(
            reader.quirks, trigger, n, rospec.observation_n, rospec.observation_timeout_ms, rospec.ai_duration_ms
        )
        self.rospec = rospec
        self.reader = reader
        self.peer = peer
        self.report_n = report_n  # 0: not by count
        self.report_every_s = every_s  # 0: not by time
        self.stop_at = now + rospec.stop_duration_ms / 1000.0 if rospec.stop_duration_ms else None
        self.last_report = now
        self.buffer: list[bytes] = []  # encoded TagReportData not reported yet
        self.scenario_time = 0.0
        self.replay = ReplayCursor(reader.replay, reader.replay_rate, now) if reader.replay is not None else None
        self._stream = ReadStream(reader.scenario, reader.antennas_of(rospec))
        self._encoder = f.TagReportEncoder(rospec.selector or config.selector, rospec_id=rospec.rospec_id)
        self._customs = "vendor-custom-params" in reader.quirks
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
        quirks = self.reader.quirks
        customs = self._customs
        for r in reads:
            if off and r.antenna in off:
                continue
            epc = reported_epc(r.epc, quirks) if quirks else r.epc
            micros = int((epoch + r.t_s / speed) * 1_000_000)
            data = encode(prefix(epc), r.antenna, r.rssi, micros)
            if customs:
                data = with_custom_params(data, len(f.epc_parameter(epc)), r.rssi, micros)
            append(data)
