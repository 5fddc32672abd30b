"""The parser of ``dockgate`` and the dispatch to each command's module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gateway.cli.bench import add_bench_commands
from gateway.cli.check import cmd_check_config
from gateway.cli.exitcodes import EXIT_FAILURE
from gateway.cli.journal import add_journal_commands
from gateway.cli.run import cmd_run


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:2] == ["simulate", "llrp"]:
        # The simulator is a reader of its own, with its own arguments.
        from simulators.llrp.cli import main as simulate_llrp

        return simulate_llrp(args[2:])
    if args[:2] == ["simulate", "impinj-iot"]:
        from simulators.impinj_iot.cli import main as simulate_impinj_iot

        return simulate_impinj_iot(args[2:])
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
    run.add_argument(
        "--record",
        metavar="FILE",
        help="append every tag read to FILE (JSON lines), to score the door's own reads with "
        "'dockgate bench accuracy --recording FILE' (docs/accuracy.md, Tuning a difficult door)",
    )
    run.set_defaults(handler=cmd_run)

    check = sub.add_parser("check-config", help="validate a configuration file")
    check.add_argument("file", help="YAML configuration file")
    check.set_defaults(handler=cmd_check_config)

    simulate = sub.add_parser("simulate", help="run a reader simulator")
    simulate.add_argument("kind", choices=["llrp", "impinj-iot", "scanner"], help="which reader to simulate")
    simulate.set_defaults(handler=lambda ns: EXIT_FAILURE)  # main() hands every kind over before parsing

    add_bench_commands(sub.add_parser("bench", help="measure the gateway"))
    add_journal_commands(sub.add_parser("journal", help="the signed journal: keygen, verify, export"))

    demo = sub.add_parser("demo", help="simulator + embedded broker + gateway, a live view of the door")
    demo.add_argument(
        "--scenario", metavar="NAME", help="a scenario from the library (in-and-out, back-to-back, ...) or a YAML file"
    )
    demo.add_argument("--epcis", action="store_true", help="also publish and show EPCIS 2.0 documents")
    demo.add_argument("--log-level", default="WARNING", help="gateway log level (default WARNING)")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def _cmd_demo(ns: argparse.Namespace) -> int:
    from gateway.cli.demo.run import run_demo  # rich, paho and the simulator load only for the demo

    return run_demo(scenario=ns.scenario, log_level=ns.log_level, epcis=ns.epcis)
