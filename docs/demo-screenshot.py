"""Make docs/demo.png from a real run: `dockgate demo --epcis` in a tmux terminal, its screen captured with colours
while a pallet is in the door, turned into SVG by rich and into PNG by rsvg-convert (Debian: librsvg2-bin).

    python docs/demo-screenshot.py            # needs tmux and rsvg-convert
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

REPO = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 120, 60
SESSION = "dockgate-demo-screenshot"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def main() -> int:
    command = f"cd {REPO} && PYTHONPATH={REPO} {sys.executable} -m gateway demo --epcis"
    tmux("new-session", "-d", "-s", SESSION, "-x", str(WIDTH), "-y", str(HEIGHT), command)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.5)
            plain = tmux("capture-pane", "-t", SESSION, "-p")
            present = re.search(r"tags present \((\d+)\)", plain)
            # a pallet crossing the door, and the events of an earlier pallet delivered
            if present and int(present.group(1)) >= 4 and "departed" in plain and plain.count("→") >= 3:
                break
        else:
            print("the demo never showed a pallet in the door", file=sys.stderr)
            return 1
        time.sleep(1.0)  # let the read rates settle on the current pallet
        ansi = tmux("capture-pane", "-t", SESSION, "-p", "-e")
    finally:
        tmux("send-keys", "-t", SESSION, "C-c")
        time.sleep(3)
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    console = Console(record=True, width=WIDTH, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    console.print(Text.from_ansi(ansi.rstrip("\n")))
    svg = REPO / "docs" / "demo.svg"
    console.save_svg(str(svg), title="./scripts/demo --epcis")
    subprocess.run(["rsvg-convert", "--zoom", "1.0", "-o", str(REPO / "docs" / "demo.png"), str(svg)], check=True)
    svg.unlink()
    print(REPO / "docs" / "demo.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
