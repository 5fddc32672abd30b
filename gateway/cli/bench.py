"""``dockgate bench accuracy``, ``dockgate bench throughput`` and ``dockgate bench journal``."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli.exitcodes import EXIT_OK


def add_bench_commands(bench: argparse.ArgumentParser) -> None:
    bench_sub = bench.add_subparsers(dest="bench", metavar="BENCH", required=True)
    accuracy = bench_sub.add_parser("accuracy", help="score the pipeline against scenario ground truth")
    accuracy.add_argument("--scenarios", help="folder of scenario YAML files (default: the built-in library)")
    accuracy.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    accuracy.add_argument(
        "--sweep",
        action="store_true",
        help="generated doors (docs/accuracy.md, Physics) over a grid of wall attenuation, noise, read loss and "
        "speed: where precision, recall, location and direction hold",
    )
    accuracy.add_argument(
        "--recording",
        metavar="FILE",
        help="a door's reads from 'dockgate run --record FILE', with --truth and --config",
    )
    accuracy.add_argument("--truth", metavar="FILE", help="with --recording: the visits that happened (YAML)")
    accuracy.add_argument("--config", metavar="FILE", help="with --recording: the gateway config of the door")
    accuracy.add_argument(
        "--set",
        metavar="SECTION.KEY=VALUE",
        action="append",
        default=[],
        help="with --recording: a setting to try instead of the config's (YAML value; repeatable)",
    )
    accuracy.add_argument("--quick", action="store_true", help="with --sweep: a small grid, one seed")
    accuracy.add_argument("--seeds", type=int, default=3, help="with --sweep: seeds per grid point (default 3)")
    accuracy.add_argument(
        "--reader-type",
        choices=["direct", "llrp", "impinj-iot"],
        default="direct",
        help="pass the reads through that reader type's wire (its simulator's encoding, its driver's decoder); "
        "direct (default): straight into the pipeline",
    )
    accuracy.set_defaults(handler=_cmd_bench_accuracy)
    throughput = bench_sub.add_parser(
        "throughput", help="full gateway vs sllurp decode-only vs a naive gateway on one recorded LLRP stream"
    )
    throughput.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    throughput.add_argument("--seconds", type=float, default=10.0, help="measuring window per gateway run (default 10)")
    throughput.add_argument("--quick", action="store_true", help="a few seconds per part: a smoke run, not figures")
    throughput.set_defaults(handler=_cmd_bench_throughput)
    journal = bench_sub.add_parser(
        "journal", help="the journal's cost per event in Outbox.append, and verify's speed over 1,000,000 entries"
    )
    journal.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    journal.add_argument("--quick", action="store_true", help="10,000 entries: a smoke run, not figures")
    journal.set_defaults(handler=_cmd_bench_journal)


def _cmd_bench_accuracy(ns: argparse.Namespace) -> int:
    import logging

    from gateway.bench.accuracy import run

    # the shipment scenarios are meant to raise exceptions: the book's log lines about them are not the report
    logging.getLogger("gateway.shipments").setLevel(logging.ERROR)

    if ns.recording:
        return _score_recording(ns)
    if ns.sweep:
        from gateway.bench.sweep import GRID, QUICK_GRID, report, sweep

        points, pairs = sweep(QUICK_GRID if ns.quick else GRID, 1 if ns.quick else ns.seeds)
        print(report(points, pairs, as_json=ns.json))
        return EXIT_OK
    print(run(Path(ns.scenarios) if ns.scenarios else None, as_json=ns.json, reader_type=ns.reader_type))
    return EXIT_OK


def _cmd_bench_throughput(ns: argparse.Namespace) -> int:
    from gateway.bench.throughput.report import main as throughput

    argv = ["--seconds", str(ns.seconds)] + (["--json"] if ns.json else []) + (["--quick"] if ns.quick else [])
    return throughput(argv)


def _cmd_bench_journal(ns: argparse.Namespace) -> int:
    from gateway.bench.journal import main as journal

    print(journal(quick=ns.quick, as_json=ns.json))
    return EXIT_OK


def _score_recording(ns: argparse.Namespace) -> int:
    import sys

    import yaml

    from gateway.bench.accuracy import table
    from gateway.bench.recording import score_recording
    from gateway.cli.check import load_or_report
    from gateway.cli.exitcodes import EXIT_BAD_CONFIG
    from gateway.domain.errors import DockgateError

    if not ns.truth or not ns.config:
        print("--recording needs --truth FILE and --config FILE", file=sys.stderr)
        return EXIT_BAD_CONFIG
    config = load_or_report(ns.config)
    if config is None:
        return EXIT_BAD_CONFIG
    changes = {}
    for item in ns.set:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"--set {item}: expected SECTION.KEY=VALUE", file=sys.stderr)
            return EXIT_BAD_CONFIG
        changes[key] = yaml.safe_load(value)
    try:
        result = score_recording(Path(ns.recording), Path(ns.truth), config, changes)
    except (DockgateError, ValueError) as exc:
        print(f"cannot score the recording: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    print(table([result]))
    return EXIT_OK
