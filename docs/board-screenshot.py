"""Make docs/board.png from a real run: the browser test of the door board (tests/e2e/test_board.py) with a
gateway, the LLRP simulator and mosquitto, saving the board of the door in exception (one case missing,
another owner's pallet unexpected) as headless chromium shows it.

    python docs/board-screenshot.py            # needs mosquitto, chromium and chromium-driver (./scripts/test)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEST = "tests/e2e/test_board.py::test_the_board_shows_a_pallet_within_1s_a_red_door_and_only_the_owners_tags"


def main() -> int:
    png = REPO / "docs" / "board.png"
    env = dict(os.environ, DOCKGATE_BOARD_SCREENSHOT=str(png), PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST], cwd=REPO, env=env)
    if done.returncode != 0 or not png.exists():
        print("the board test failed; no screenshot", file=sys.stderr)
        return 1
    print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
