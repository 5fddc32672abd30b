"""``dockgate simulate scanner --pty``: a serial barcode scanner on a pty.

Prints the device path to open as the first line of stdout, then writes each input line (from
``--input FILE`` or stdin) as one scan followed by the terminator. Input lines may also be commands:

    !unplug        close the pty (and remove the --link)
    !replug        create a new pty (and point the --link at it)
    !sleep 0.5     wait half a second
    # comment      ignored, as are empty lines

In scan lines, ``<GS>`` or ``\\x1d`` stands for the GS (FNC1) separator. After the input ends the scanner
stays plugged until SIGINT/SIGTERM (``--exit`` ends it instead).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import FrameType

from simulators.scanner.pty import PtyScanner

NAMED_TERMINATORS = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n"}


def parse_terminator(text: str) -> bytes:
    """``--terminator``: CR, LF, CRLF (any case) or the bytes themselves, escapes such as ``\\x03`` allowed.

    The simulator reads this itself rather than with the driver's parser, so that a bug there is not
    repeated on the device side where no test could see it."""
    named = NAMED_TERMINATORS.get(text.upper())
    if named is not None:
        return named
    try:
        terminator = text.encode("latin-1").decode("unicode_escape").encode("latin-1")
    except (UnicodeError, ValueError) as exc:
        raise ValueError(f"{text!r} is not CR, LF, CRLF or a byte string with \\x escapes") from exc
    if not terminator:
        raise ValueError("the terminator must not be empty")
    return terminator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dockgate simulate scanner", description="A simulated barcode scanner.")
    parser.add_argument("--pty", action="store_true", required=True, help="serial scanner on a pty (the only kind)")
    parser.add_argument("--link", help="keep a symlink at this path pointing at the current pty")
    parser.add_argument(
        "--terminator",
        default="CR",
        type=parse_terminator,
        help="CR, LF, CRLF or a string such as '\\x03' (default CR)",
    )
    parser.add_argument("--input", help="file of scans and commands, one a line (default: stdin)")
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between two scans (default 0)")
    parser.add_argument("--exit", action="store_true", help="end when the input ends")
    return parser


def run(lines: Iterable[str], scanner: PtyScanner, interval: float, stop: threading.Event) -> None:
    for raw in lines:
        if stop.is_set():
            return
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("!"):
            command, _, arg = line[1:].partition(" ")
            if command == "unplug":
                scanner.unplug()
            elif command == "replug":
                scanner.replug()
            elif command == "sleep":
                stop.wait(float(arg))
            else:
                print(f"unknown command {line!r} (known: !unplug, !replug, !sleep SECONDS)", file=sys.stderr)
            continue
        text = line.replace("<GS>", "\x1d").replace("\\x1d", "\x1d")
        if scanner.plugged:
            scanner.scan(text)
        else:
            print(f"scanner unplugged: scan {text!r} not sent", file=sys.stderr)
        if interval:
            stop.wait(interval)


def main(argv: Sequence[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    scanner = PtyScanner(ns.link, ns.terminator)
    scanner.plug()
    print(scanner.path, flush=True)
    print(f"scanner simulator on {scanner.device}", file=sys.stderr, flush=True)
    try:
        if ns.input:
            with Path(ns.input).open(encoding="utf-8") as lines:
                run(lines, scanner, ns.interval, stop)
        else:
            # stdin is read on a thread of its own so that a signal ends the simulator at once
            reader = threading.Thread(target=run, args=(sys.stdin, scanner, ns.interval, stop), daemon=True)
            reader.start()
            while reader.is_alive() and not stop.is_set():
                reader.join(0.1)
        while not ns.exit and not stop.is_set():
            time.sleep(0.1)
    finally:
        scanner.unplug()
    return 0


if __name__ == "__main__":
    sys.exit(main())
