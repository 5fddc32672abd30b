"""The child processes the benchmarks start (mosquitto, the LLRP simulator, ``dockgate run``) and what
they measure of them: CPU time and resident memory, from Linux ``/proc``."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.ops.net import free_port, wait_for_port


class BenchError(Exception):
    """A benchmark could not run: says what is missing or did not start."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux ``/proc``)."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for process {pid}")


def start_mosquitto(folder: Path, port: int | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """mosquitto on loopback (a free port unless given), ``max_queued_messages 0`` (no silent drops,
    FIELD-NOTES), persistence off as in the tests; returns once it listens."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).is_file():
        raise BenchError("mosquitto is not on the PATH nor in /usr/sbin: install it (Debian: apt install mosquitto)")
    port = port or free_port()
    conf = folder / f"mosquitto-{port}.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\npersistence false\n")
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
    except TimeoutError as exc:
        stop(process)
        raise BenchError(f"mosquitto did not start: {exc}") from exc
    return process, port


def start_simulator(
    stream: Path | None, rate: float | None, scenario: Path | None = None
) -> tuple[subprocess.Popen[str], int]:
    """The LLRP simulator replaying ``stream`` in a loop (full speed, or ``rate`` reads/s), or playing
    ``scenario`` when no stream is given; returns it and its port."""
    source = ["--replay", str(stream)] if stream is not None else ["--scenario", str(scenario)]
    cmd = [sys.executable, "-m", "simulators.llrp", "--port", "0", *source, "--log-level", "WARNING"]
    if rate is not None:
        cmd += ["--rate", str(rate)]
    process = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if match:
            return process, int(match.group(1))
    raise BenchError(f"the LLRP simulator did not start (exit {process.wait()})")


def start_gateway(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """``dockgate run --config CONFIG``, its output into ``log``."""
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` (an ``OSError`` counts as not yet) until true; ``BenchError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise BenchError(f"timed out after {timeout}s waiting for {what}")
