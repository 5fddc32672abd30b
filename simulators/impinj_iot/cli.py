"""`dockgate simulate impinj-iot`: run the Impinj IoT Device Interface simulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import ssl
import sys
import time
from types import FrameType

from simulators.impinj_iot.faults import Fault, parse_fault
from simulators.impinj_iot.reader import SimReader
from simulators.impinj_iot.server import ImpinjIotSimulator
from simulators.llrp.scenario import ScenarioError, default_scenario_path, load_scenario


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockgate simulate impinj-iot",
        description="Impinj R700 IoT Device Interface simulator (REST + HTTP stream) that plays a tag scenario.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port, 0 = pick a free one (default 8080)")
    parser.add_argument("--scenario", default=None, help="scenario YAML file (default: the packaged default)")
    parser.add_argument("--loop", action="store_true", help="restart the scenario when it ends")
    parser.add_argument("--speed", type=float, default=1.0, help="scenario time runs this many times faster")
    parser.add_argument("--antennas", type=int, default=None, help="antenna ports (default: 4, or the scenario's)")
    parser.add_argument("--user", default="root", help="Basic auth user name (default root)")
    parser.add_argument("--password-file", help="file holding the password (default: impinj)")
    parser.add_argument(
        "--preset", action="append", default=[], help="a preset stored on the reader (default: default)"
    )
    parser.add_argument("--keepalive", type=float, default=1.0, help="stream keep-alive interval, s (default 1)")
    parser.add_argument("--buffer", type=int, default=100_000, help="events kept while no stream reads them")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="the certificate's private key (PEM)")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="cut-after=S, stall-after=S[+D], unauthorized-for=S, booting-for=S, reboot-after=S[+D], "
        "overflow-after=S, malformed-after=S, antenna-off=A@S, busy (repeatable; simulators/impinj_iot/faults.py)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if not 0 <= args.port <= 65535:
        print(f"impinj-iot simulator: --port: expected 0-65535, got {args.port}", file=sys.stderr)
        return 2
    if (args.tls_cert is None) != (args.tls_key is None):
        print("impinj-iot simulator: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    try:
        faults: tuple[Fault, ...] = tuple(parse_fault(x) for x in args.fault)
        scenario = load_scenario(args.scenario or default_scenario_path())
        password = "impinj"
        if args.password_file:
            with open(args.password_file, encoding="utf-8") as handle:
                password = handle.read().rstrip("\r\n")
        tls = None
        if args.tls_cert:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(args.tls_cert, args.tls_key)
        antennas = args.antennas or max(4, *scenario.antennas_used())
        reader = SimReader(
            scenario,
            antennas=antennas,
            presets=tuple(args.preset) or ("default",),
            faults=faults,
            speed=args.speed,
            loop=args.loop,
            buffer_size=args.buffer,
        )
        sim = ImpinjIotSimulator(
            reader, host=args.host, port=args.port, user=args.user, password=password, keepalive=args.keepalive, tls=tls
        )
        sim.start()
    except (ScenarioError, ValueError) as exc:
        print(f"impinj-iot simulator: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"impinj-iot simulator: {exc}", file=sys.stderr)
        return 1
    stop: list[int] = []  # a plain list: a signal handler must not take a lock

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(
            f"impinj-iot simulator listening on {args.host}:{sim.port} scheme={'https' if tls else 'http'} "
            f"scenario={scenario.name}",
            file=sys.stderr,
            flush=True,
        )
        while not stop:
            time.sleep(0.2)
    finally:
        sim.stop()
        with reader.cond:
            print(
                f"impinj-iot simulator stopped: starts={reader.starts} stops={reader.stops} reboots={reader.reboots}",
                file=sys.stderr,
                flush=True,
            )
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
