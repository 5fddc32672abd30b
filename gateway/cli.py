"""The ``dockgate`` command: run, check-config, simulate, demo."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from gateway.config import AnyReaderSettings, Config, load_config
from gateway.domain.errors import ConfigError, DockgateError
from gateway.ops.logs import setup_logging as setup_logging  # re-exported for the demo

log = logging.getLogger("dockgate")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_CONFIG = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:2] == ["simulate", "llrp"]:
        # The simulator is a reader of its own, with its own arguments.
        from simulators.llrp.cli import main as simulate_llrp

        return simulate_llrp(args[2:])
    if args[:2] == ["simulate", "scanner"]:
        from simulators.scanner.cli import main as simulate_scanner

        return simulate_scanner(args[2:])
    parser = _parser()
    ns = parser.parse_args(args)
    if ns.command is None:
        parser.print_help()
        return EXIT_FAILURE
    result: int = ns.handler(ns)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockgate", description="RFID/barcode edge gateway: reads in, location events out over MQTT."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the gateway in the foreground")
    run.add_argument("--config", "-c", required=True, help="YAML configuration file")
    run.add_argument(
        "--log-format", choices=["keyvalue", "json"], help="log line format (default: logging.format, keyvalue)"
    )
    run.set_defaults(handler=_cmd_run)

    check = sub.add_parser("check-config", help="validate a configuration file")
    check.add_argument("file", help="YAML configuration file")
    check.set_defaults(handler=_cmd_check_config)

    simulate = sub.add_parser("simulate", help="run a reader simulator")
    simulate.add_argument("kind", choices=["llrp", "scanner"], help="which reader to simulate")
    simulate.set_defaults(handler=lambda ns: EXIT_FAILURE)

    bench = sub.add_parser("bench", help="measure the gateway")
    bench_sub = bench.add_subparsers(dest="bench", metavar="BENCH", required=True)
    accuracy = bench_sub.add_parser("accuracy", help="score the pipeline against scenario ground truth")
    accuracy.add_argument("--scenarios", help="folder of scenario YAML files (default: the built-in library)")
    accuracy.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    accuracy.set_defaults(handler=_cmd_bench_accuracy)
    throughput = bench_sub.add_parser(
        "throughput", help="full gateway vs sllurp decode-only vs a naive gateway on one recorded LLRP stream"
    )
    throughput.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    throughput.add_argument("--seconds", type=float, default=10.0, help="measuring window per gateway run (default 10)")
    throughput.add_argument("--quick", action="store_true", help="a few seconds per part: a smoke run, not figures")
    throughput.set_defaults(handler=_cmd_bench_throughput)

    demo = sub.add_parser("demo", help="simulator + embedded broker + gateway, a live view of the door")
    demo.add_argument(
        "--scenario", metavar="NAME", help="a scenario from the library (in-and-out, back-to-back, ...) or a YAML file"
    )
    demo.add_argument("--epcis", action="store_true", help="also publish and show EPCIS 2.0 documents")
    demo.add_argument("--log-level", default="WARNING", help="gateway log level (default WARNING)")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def _load(path: str) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"{path}: invalid configuration ({len(exc.problems)} problem(s)):", file=sys.stderr)
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None


def _cmd_check_config(ns: argparse.Namespace) -> int:
    config = _load(ns.file)
    if config is None:
        return EXIT_BAD_CONFIG
    print(describe(config))
    return EXIT_OK


def describe(config: Config) -> str:
    """A short summary of a valid config."""
    readers = ", ".join(_describe_reader(r) for r in config.readers)
    locations = ", ".join(loc.name for loc in config.locations)
    mqtt = config.mqtt
    return (
        f"config OK: gateway {config.gateway.id}\n"
        f"  readers: {readers}\n"
        f"  locations: {locations}\n"
        f"  mqtt: {mqtt.host}:{mqtt.port} (MQTT {mqtt.protocol}), topics {mqtt.topic_prefix}/{config.gateway.id}/...\n"
        f"  outbox: {config.outbox.path}"
    )


def _describe_reader(reader: AnyReaderSettings) -> str:
    if reader.type == "llrp":
        return f"{reader.name} (llrp {reader.host}:{reader.port}, antennas {reader.antennas})"
    if reader.type == "serial":
        return f"{reader.name} (serial {reader.port}, {reader.baudrate} baud)"
    return f"{reader.name} (usb-hid {reader.vendor_id:04x}:{reader.product_id:04x})"


def _cmd_run(ns: argparse.Namespace) -> int:
    config = _load(ns.config)
    if config is None:
        return EXIT_BAD_CONFIG
    setup_logging(config.logging.level, ns.log_format or config.logging.format)
    faulthandler.enable()  # a fatal signal (SIGSEGV, SIGABRT) dumps every thread's stack to the log
    from gateway.app import Gateway

    try:
        gateway = Gateway(config)
    except DockgateError as exc:
        log.error("event=startup_failed error=%s", exc)
        return EXIT_FAILURE
    gateway.reload_from = lambda: load_config(ns.config)

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
        log.error("event=fatal error=%s", exc)
        return EXIT_FAILURE
    return EXIT_OK


def _cmd_bench_accuracy(ns: argparse.Namespace) -> int:
    from pathlib import Path

    from gateway.bench.accuracy import run

    print(run(Path(ns.scenarios) if ns.scenarios else None, as_json=ns.json))
    return EXIT_OK


def _cmd_bench_throughput(ns: argparse.Namespace) -> int:
    try:
        from benchmarks.throughput import main as throughput
    except ModuleNotFoundError as exc:
        print(
            f"dockgate bench throughput: {exc}; run it from a checkout of the repository "
            "(the benchmarks are not installed with the package)",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    argv = ["--seconds", str(ns.seconds)] + (["--json"] if ns.json else []) + (["--quick"] if ns.quick else [])
    return throughput(argv)


def _cmd_demo(ns: argparse.Namespace) -> int:
    from gateway.demo import run_demo

    return run_demo(scenario=ns.scenario, log_level=ns.log_level, epcis=ns.epcis)


if __name__ == "__main__":
    sys.exit(main())
