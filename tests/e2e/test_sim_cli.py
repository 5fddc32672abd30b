"""`python -m simulators.llrp`: prints its listening line, serves, exits 0 on SIGTERM."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(30)


def test_cli_listens_and_exits_cleanly_on_sigterm() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators.llrp",
            "--port",
            "0",
            "--speed",
            "4",
            "--scenario",
            str(REPO / "simulators/llrp/examples/quick.yaml"),
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = ""
        for line in proc.stderr:
            if "listening on" in line:
                break
        match = re.fullmatch(r"llrp simulator listening on 127\.0\.0\.1:(\d+) scenario=quick\n", line)
        assert match, line
        with socket.create_connection(("127.0.0.1", int(match.group(1))), timeout=5) as sock:
            assert len(sock.recv(64)) >= 10  # READER_EVENT_NOTIFICATION
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_reports_a_bad_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("pallets: []\n")
    result = subprocess.run(
        [sys.executable, "-m", "simulators.llrp", "--port", "0", "--scenario", str(bad)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2
    assert "pallets: expected a non-empty list" in result.stderr
