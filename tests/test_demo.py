"""`dockgate demo` runs with nothing else installed, shows delivered events and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

from tests.conftest import REPO


def test_demo_prints_delivered_events_and_stops_on_ctrl_c() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "gateway", "demo"],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert demo.stdout is not None
    stdout = demo.stdout
    reader = threading.Thread(target=lambda: lines.extend(stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not any(" ARRIVED " in line for line in lines):
        time.sleep(0.2)
    demo.send_signal(signal.SIGINT)
    try:
        code = demo.wait(30)
    finally:
        if demo.poll() is None:
            demo.kill()
    reader.join(5)
    err = demo.stderr.read() if demo.stderr else ""
    text = "".join(lines)
    assert code == 0, f"exit {code}\n{text}\n{err}"
    assert re.search(r"MQTT broker: +127\.0\.0\.1:\d+", text)
    assert "mosquitto_sub -h 127.0.0.1 -p" in text
    assert re.search(r"#1 +ARRIVED +dock-3 +[0-9A-F]{24}", text), text
    assert "gateway status: online" in text
    assert "Traceback" not in err
