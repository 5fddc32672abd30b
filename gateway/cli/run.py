"""``dockgate run --config FILE``: the gateway in the foreground until SIGINT or SIGTERM; SIGHUP reloads."""

from __future__ import annotations

import argparse
import faulthandler
import signal
from pathlib import Path
from types import FrameType

from gateway.cli.check import load_or_report
from gateway.cli.exitcodes import EXIT_BAD_CONFIG, EXIT_FAILURE, EXIT_OK
from gateway.config import load_config
from gateway.domain.errors import DockgateError
from gateway.domain.log import get_logger
from gateway.ops.logs import setup_logging

log = get_logger(__name__)


def cmd_run(ns: argparse.Namespace) -> int:
    config = load_or_report(ns.config)
    if config is None:
        return EXIT_BAD_CONFIG
    setup_logging(config.logging.level, ns.log_format or config.logging.format)
    faulthandler.enable()  # a fatal signal (SIGSEGV, SIGABRT) dumps every thread's stack to the log
    from gateway.app import Gateway

    try:
        gateway = Gateway(config)
    except DockgateError as exc:
        log.error("startup_failed", error=str(exc))
        return EXIT_FAILURE
    gateway.reload_from = lambda: load_config(ns.config)
    recorder = None
    if getattr(ns, "record", None):
        from gateway.bench.recording import ReadRecorder

        try:
            recorder = ReadRecorder(Path(ns.record))
        except OSError as exc:
            log.error("startup_failed", record=ns.record, error=str(exc))
            return EXIT_FAILURE
        gateway.tap_reads(recorder)
        log.warning("recording_reads", path=ns.record, detail="every tag read is appended there until the stop")

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # Runs on the main thread between two bytecodes, maybe while it holds a lock (the read queue's,
        # a log handler's): set flags only, the main loop logs and acts within one tick.
        if signum == signal.SIGHUP:
            gateway.request_reload()
        else:
            gateway.request_stop(signal.Signals(signum).name, from_signal=True)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        gateway.run()
    except DockgateError as exc:
        log.error("fatal", error=str(exc))
        return EXIT_FAILURE
    finally:
        if recorder is not None:
            recorder.close()
            log.info("recorded_reads", path=ns.record, reads=recorder.reads)
    return EXIT_OK
