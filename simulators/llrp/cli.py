"""`dockgate simulate llrp`: run the LLRP reader simulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from types import FrameType

from simulators.llrp.capabilities import VENDORS
from simulators.llrp.faults import parse_fault, parse_gpi
from simulators.llrp.reader import QUIRKS
from simulators.llrp.recording import Recording, record
from simulators.llrp.scenario import Scenario, ScenarioError, default_scenario_path, load_scenario
from simulators.llrp.server import LLRPSimulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockgate simulate llrp", description="LLRP 1.0.1 reader simulator that plays a tag scenario."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5084, help="TCP port, 0 = pick a free one (default 5084)")
    parser.add_argument(
        "--antennas",
        type=int,
        default=None,
        help="number of antennas (default: 4, or the highest antenna the scenario uses if above 4)",
    )
    parser.add_argument("--scenario", default=None, help="scenario YAML file (default: the packaged default)")
    parser.add_argument("--loop", action="store_true", help="restart the scenario when it ends")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="scenario time runs this many times faster than real time (default 1.0)",
    )
    parser.add_argument(
        "--vendor",
        default="generic",
        choices=sorted(VENDORS),
        help="capability set: impinj (R420-like), zebra (FX9600-like) or generic (default)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="drop-after=S, silent-after=S, garbage-after=S, antenna-off=A@S, antenna-on=A@S "
        "(seconds from the first client connection; repeatable)",
    )
    parser.add_argument(
        "--gpi", action="append", default=[], metavar="PORT@START+DURATION", help="a GPI pulse, e.g. 1@2s+300ms"
    )
    parser.add_argument(
        "--quirk",
        action="append",
        default=[],
        metavar="QUIRK",
        help=f"misbehave like some readers: {', '.join(QUIRKS)} (stale-session=S and reboot-after=S take a time)",
    )
    parser.add_argument(
        "--replay",
        metavar="FILE",
        help="instead of the scenario, stream this recorded LLRP byte stream (RO_ACCESS_REPORTs, looped) "
        "once the client's ROSpec starts",
    )
    parser.add_argument(
        "--rate", type=float, default=None, metavar="N", help="with --replay: N reads/s (default: full speed)"
    )
    parser.add_argument(
        "--record",
        metavar="FILE",
        help="write the scenario's reads as a recorded stream (RO_ACCESS_REPORTs of --tags-per-report) and exit",
    )
    parser.add_argument("--tags-per-report", type=int, default=100, help="with --record (default 100)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def default_antennas(scenario: Scenario, vendor: str = "generic") -> int:
    """The vendor's port count (4 for generic and Impinj, 8 for Zebra), more if the scenario reads on
    higher antenna ids."""
    return max(VENDORS[vendor].antennas, *scenario.antennas_used())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if not 0 <= args.port <= 65535:
        print(f"llrp simulator: --port: expected 0-65535, got {args.port}", file=sys.stderr)
        return 2
    scenario_path = args.scenario or default_scenario_path()
    if args.rate is not None and args.replay is None:
        print("llrp simulator: --rate needs --replay", file=sys.stderr)
        return 2
    try:
        scenario = load_scenario(scenario_path)
        if args.record is not None:
            recording = record(scenario, args.tags_per_report)
            recording.save(args.record)
            print(
                f"llrp simulator: recorded {recording.total_reads} reads in {len(recording.frames)} reports "
                f"({recording.total_bytes} bytes) to {args.record}",
                file=sys.stderr,
            )
            return 0
        sim = LLRPSimulator(
            scenario,
            host=args.host,
            port=args.port,
            antennas=args.antennas if args.antennas is not None else default_antennas(scenario, args.vendor),
            loop=args.loop,
            speed=args.speed,
            vendor=args.vendor,
            faults=[parse_fault(x) for x in args.fault],
            gpi=[parse_gpi(x) for x in args.gpi],
            quirks=args.quirk,
            replay=Recording.load(args.replay) if args.replay is not None else None,
            replay_rate=args.rate,
        )
        sim.start()
    except (ScenarioError, ValueError) as exc:
        print(f"llrp simulator: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if args.record is not None:
            print(f"llrp simulator: cannot write {args.record}: {exc.strerror}", file=sys.stderr)
            return 1
        print(f"llrp simulator: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    stop: list[int] = []  # a plain list, not an Event: a signal handler must not take a lock the main
    # thread may hold at that moment (Event.wait does), or the two deadlock

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(
            f"llrp simulator listening on {args.host}:{sim.port} scenario={scenario.name}",
            file=sys.stderr,
            flush=True,
        )
        while not stop:
            time.sleep(0.2)
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
