"""Running it like a service: metrics, health, promtool, sd_notify, logs, reload and shutdown, end to end."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from tests.conftest import REPO, Broker, Subscriber, free_port, wait_until
from tests.e2e.test_e2e import spawn, start_simulator, stop

QUICK = REPO / "simulators" / "llrp" / "examples" / "quick.yaml"
DEFAULT = REPO / "simulators" / "llrp" / "examples" / "default.yaml"


def write_config(
    tmp_path: Path,
    broker_port: int,
    readers: list[tuple[str, int]],
    metrics_port: int,
    extra: str = "",
    name: str = "gateway.yaml",
) -> Path:
    reader_lines = "\n".join(
        f"  - {{name: {n}, type: llrp, host: 127.0.0.1, port: {p}, antennas: [1, 2, 3, 4], keepalive: 1s}}"
        for n, p in readers
    )
    location_lines = "\n".join(f"  - name: door-{n}\n    read_points: [{{reader: {n}}}]" for n, _ in readers)
    path = tmp_path / name
    path.write_text(
        f"""\
gateway: {{id: gw-ops}}
mqtt: {{host: 127.0.0.1, port: {broker_port}, reconnect_delay_max: 1s}}
readers:
{reader_lines}
locations:
{location_lines}
pipeline: {{depart_after: 1s}}
outbox: {{path: {tmp_path / "outbox.db"}}}
metrics: {{listen: "127.0.0.1:{metrics_port}"}}
{extra}"""
    )
    return path


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text format, or None when absent."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(4))
    return None


class Lines:
    """A child's stderr, collected as it comes (a pipe nobody reads would stall the child)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        stream = process.stderr
        self.lines: list[str] = []
        self._thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self._thread.start()

    def has(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def text(self) -> str:
        self._thread.join(10)
        return "".join(self.lines)


def finish(process: subprocess.Popen[str], lines: Lines, timeout: float = 20) -> tuple[int, float]:
    """SIGTERM, then the exit code and how long the exit took."""
    start = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"no exit within {timeout}s after SIGTERM:\n{lines.text()}") from None
    return code, time.monotonic() - start


def test_metrics_move_as_the_door_works(tmp_path: Path, mosquitto: Broker) -> None:
    sim, sim_port = start_simulator(DEFAULT, "--loop", "--speed", "2")
    metrics_port = free_port()
    gateway = spawn(
        "run", "--config", str(write_config(tmp_path, mosquitto.port, [("portal-3", sim_port)], metrics_port))
    )
    lines = Lines(gateway)
    try:
        wait_until(lambda: get(metrics_port, "/healthz")[0] == 200, 20, "/healthz")
        wait_until(lambda: get(metrics_port, "/readyz")[0] == 200, 20, "/readyz")

        def scrape() -> str:
            return get(metrics_port, "/metrics")[1]

        wait_until(lambda: (metric(scrape(), "dockgate_events_total", type="arrived") or 0) > 0, 30, "an arrival")
        first = scrape()
        assert metric(first, "dockgate_reader_connected", reader="portal-3") == 1
        assert metric(first, "dockgate_mqtt_connected") == 1
        assert metric(first, "dockgate_outbox_healthy") == 1
        assert metric(first, "dockgate_build_info", gateway="gw-ops") == 1
        per_antenna = {
            a: metric(first, "dockgate_reads_total", reader="portal-3", antenna=str(a)) for a in (1, 2, 3, 4)
        }
        assert all(v is not None and v > 0 for v in per_antenna.values()), per_antenna
        assert (metric(first, "dockgate_antenna_last_read_timestamp_seconds", reader="portal-3", antenna="1") or 0) > (
            time.time() - 60
        )
        time.sleep(2)
        later = scrape()
        assert sum(
            metric(later, "dockgate_reads_total", reader="portal-3", antenna=str(a)) or 0 for a in (1, 2, 3, 4)
        ) > sum(v or 0 for v in per_antenna.values()), "reads counted per antenna go up"
        wait_until(lambda: (metric(scrape(), "dockgate_read_to_publish_latency_seconds_count") or 0) > 0, 20, "latency")

        # promtool is happy with what we expose
        promtool = shutil.which("promtool")
        assert promtool, "promtool is missing: ./scripts/test installs the Debian package prometheus"
        check = subprocess.run([promtool, "check", "metrics"], input=later, capture_output=True, text=True)
        assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), check

        # the broker goes away: the backlog grows; it comes back: the backlog drains
        mosquitto.stop()
        wait_until(lambda: metric(scrape(), "dockgate_mqtt_connected") == 0, 20, "mqtt disconnected")
        wait_until(lambda: (metric(scrape(), "dockgate_outbox_pending_events") or 0) >= 3, 40, "a backlog")
        wait_until(lambda: (metric(scrape(), "dockgate_outbox_oldest_pending_age_seconds") or 0) > 0, 5, "age")
        mosquitto.restart()
        wait_until(lambda: metric(scrape(), "dockgate_mqtt_connected") == 1, 30, "mqtt reconnected")
        wait_until(lambda: metric(scrape(), "dockgate_outbox_pending_events") == 0, 30, "the backlog drained")

        # the reader goes away: it shows 0
        stop(sim)
        wait_until(lambda: metric(scrape(), "dockgate_reader_connected", reader="portal-3") == 0, 30, "reader down")
        # the main loop still ticks and the page shows no secret or tag
        assert get(metrics_port, "/healthz")[0] == 200
        assert "3034" not in scrape()
    finally:
        if sim.poll() is None:
            stop(sim)
        code, _ = finish(gateway, lines)
    assert code == 0, lines.text()


def test_promtool_checks_and_tests_the_alert_rules() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: ./scripts/test installs the Debian package prometheus"
    rules = REPO / "config" / "prometheus"
    check = subprocess.run([promtool, "check", "rules", str(rules / "alerts.yml")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    alerts = yaml.safe_load((rules / "alerts.yml").read_text())
    count = sum(len(group["rules"]) for group in alerts["groups"])
    assert count >= 12 and f"SUCCESS: {count} rules found" in check.stdout  # every rule of the file loaded
    tested = subprocess.run([promtool, "test", "rules", "alerts_test.yml"], cwd=rules, capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_grafana_dashboard_uses_only_metrics_we_export() -> None:
    dashboard = json.loads((REPO / "config" / "grafana" / "dockgate.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    names = set(re.findall(r"dockgate_\w+", " ".join(exprs)))
    source = (REPO / "gateway" / "ops" / "metrics.py").read_text()
    for name in names:
        base = re.sub(r"_(total|bucket|sum|count)$", "", name)
        assert f'"{base}"' in source, f"{name} is not exported by gateway/ops/metrics.py"
    assert {"dockgate_reads_total", "dockgate_outbox_pending_events", "dockgate_reader_connected"} <= names


def test_systemd_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (Debian package systemd)"
    unit = (REPO / "systemd" / "dockgate.service").read_text()
    for key in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "StateDirectory=dockgate",
        "LoadCredential=",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=",
        "SystemCallFilter=@system-service",
        "User=dockgate",
    ):
        assert key in unit, key
    # verify needs the executables to exist: point them at this Python for the check
    local = tmp_path / "dockgate.service"
    local.write_text(unit.replace("/opt/dockgate/.venv/bin/dockgate", sys.executable))
    verify = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    security = subprocess.run([analyze, "security", "--offline=yes", str(local)], capture_output=True, text=True)
    match = re.search(r"Overall exposure level for dockgate.service: ([\d.]+)", security.stdout)
    assert match, security.stdout + security.stderr
    assert float(match.group(1)) < 3.0, security.stdout[-400:]


def test_sd_notify_ready_watchdog_stopping(tmp_path: Path, mosquitto: Broker) -> None:
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.2)
    messages: list[str] = []
    config = write_config(tmp_path, mosquitto.port, [("portal-3", free_port())], free_port())
    env = dict(os.environ, PYTHONPATH=str(REPO), NOTIFY_SOCKET=str(sock_path), WATCHDOG_USEC="1000000")
    gateway = subprocess.Popen(
        [sys.executable, "-m", "gateway", "run", "--config", str(config)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = Lines(gateway)

    def receive_until(predicate: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not any(predicate in m for m in messages):
            with contextlib.suppress(TimeoutError):
                messages.append(sock.recv(4096).decode())

    try:
        receive_until("READY=1", 20)
        time.sleep(2.5)
        receive_until("WATCHDOG=1", 1)
        start = len([m for m in messages if m == "WATCHDOG=1"])
        time.sleep(2.2)
        for _ in range(40):
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                break
        assert len([m for m in messages if m == "WATCHDOG=1"]) >= start + 3  # every 0.5 s for WatchdogSec=1s
    finally:
        code, _ = finish(gateway, lines)
        receive_until("STOPPING=1", 5)
        sock.close()
    assert code == 0, lines.text()
    ready = next(m for m in messages if m.startswith("READY=1"))
    assert "STATUS=1 reader(s), 1 location(s)" in ready
    assert "STOPPING=1" in messages


def test_sigterm_with_the_broker_away_exits_0_within_10_s(tmp_path: Path) -> None:
    sim, sim_port = start_simulator(DEFAULT, "--loop", "--speed", "4")
    config = write_config(tmp_path, free_port(), [("portal-3", sim_port)], free_port())
    gateway = spawn("run", "--config", str(config))
    lines = Lines(gateway)
    try:
        wait_until(lambda: lines.has("event=stored type=arrived"), 30, "events stored while the broker is away")
    finally:
        code, took = finish(gateway, lines)
        stop(sim)
    text = lines.text()
    assert code == 0, text
    assert took < 10, f"took {took:.1f}s"
    assert "event=stopped" in text


def test_log_formats_and_no_secret_in_any_line(tmp_path: Path, mosquitto: Broker) -> None:
    secret = "s3cr3t-Pa55word-do-not-log"
    config = write_config(
        tmp_path,
        free_port(),  # nobody there: connection errors get logged
        [("portal-3", free_port())],
        free_port(),
        extra="",
    )
    text = config.read_text().replace(
        "mqtt: {host: 127.0.0.1,", "mqtt: {username: gw-ops, password_env: DOCKGATE_TEST_PW, host: 127.0.0.1,"
    )
    config.write_text(text)
    for fmt in ("keyvalue", "json"):
        env = dict(os.environ, PYTHONPATH=str(REPO), DOCKGATE_TEST_PW=secret)
        gateway = subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--config", str(config), "--log-format", fmt],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = Lines(gateway)
        wait_until(lambda: lines.has("connect_failed"), 20, "a connection error line")  # noqa: B023
        code, _ = finish(gateway, lines)
        out = lines.text()
        assert code == 0, out
        assert secret not in out
        records = [line for line in out.splitlines() if line.strip()]
        assert records
        for line in records:
            if fmt == "json":
                record = json.loads(line)
                assert {"ts", "level", "logger"} <= set(record)
            else:
                assert re.match(r"^ts=\S+Z level=\w+ logger=\S+ \w[\w.-]*=", line), line
        if fmt == "json":
            failed = [json.loads(line) for line in records if "connect_failed" in line]
            assert failed and failed[0]["event"] == "connect_failed" and "attempt" in failed[0]
    check = subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", str(config)],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO), DOCKGATE_TEST_PW=secret),
        capture_output=True,
        text=True,
    )
    assert secret not in check.stdout + check.stderr


def test_sighup_reload_keeps_what_did_not_change(
    tmp_path: Path, mosquitto: Broker, subscribe: type[Subscriber]
) -> None:
    sub = subscribe("dockgate/gw-ops/#")
    sim_a, port_a = start_simulator(DEFAULT, "--loop")
    sim_b, port_b = start_simulator(DEFAULT, "--loop")
    sim_c, port_c = start_simulator(DEFAULT, "--loop")
    metrics_port = free_port()
    config = write_config(tmp_path, mosquitto.port, [("portal-a", port_a), ("portal-b", port_b)], metrics_port)
    gateway = spawn("run", "--config", str(config))
    lines = Lines(gateway)

    def status(reader: str) -> list[str]:
        return [json.loads(p)["state"] for p in sub.on_topic(f"dockgate/gw-ops/readers/{reader}/status")]

    try:
        wait_until(
            lambda: status("portal-a")[-1:] == ["connected"] and status("portal-b")[-1:] == ["connected"],
            30,
            "both readers",
        )
        wait_until(
            lambda: any(e["location"] == "door-portal-a" and e["type"] == "arrived" for e in sub.events()), 30, "a"
        )

        # 1. an invalid config is refused with the check-config messages; the old one keeps running
        good = config.read_text()
        config.write_text(good.replace(f"port: {port_b}", "port: nope"))
        gateway.send_signal(signal.SIGHUP)
        wait_until(lambda: lines.has("event=reload_refused"), 10, "the refusal")
        assert lines.has("readers[1].port: expected a TCP port 1-65535, got 'nope'")
        assert gateway.poll() is None

        # 2. portal-b moves to another reader; portal-a is unchanged and keeps reading
        a_status_before = len(status("portal-a"))
        b_status_before = len(status("portal-b"))
        arrivals_a = [e for e in sub.events() if e["location"] == "door-portal-a" and e["type"] == "arrived"]
        present_a = {e["epc"] for e in arrivals_a} - {
            e["epc"] for e in sub.events() if e["location"] == "door-portal-a" and e["type"] == "departed"
        }
        config.write_text(good.replace(f"port: {port_b}", f"port: {port_c}"))
        gateway.send_signal(signal.SIGHUP)
        wait_until(lambda: lines.has("event=reloaded"), 10, "the reload")
        assert lines.has("readers_restarted=portal-b")
        assert lines.has("locations_kept=door-portal-a")
        wait_until(lambda: len(status("portal-b")) > b_status_before and status("portal-b")[-1] == "connected", 30, "b")
        assert lines.has("reader=portal-b state=disconnected")  # the old connection closed
        time.sleep(1.5)
        assert len(status("portal-a")) == a_status_before, "the unchanged reader never dropped"
        # tags present at the unchanged door before the reload did not arrive a second time
        again = [
            e
            for e in sub.events()
            if e["location"] == "door-portal-a"
            and e["type"] == "arrived"
            and e["epc"] in present_a
            and e not in arrivals_a
        ]
        departed_since = {
            e["epc"] for e in sub.events() if e["location"] == "door-portal-a" and e["type"] == "departed"
        }
        assert not [e for e in again if e["epc"] not in departed_since], "presence was lost on reload"
    finally:
        code, _ = finish(gateway, lines)
        for sim in (sim_a, sim_b, sim_c):
            stop(sim)
    assert code == 0, lines.text()
    seqs = [e["seq"] for e in sub.events()]
    assert seqs == sorted(set(seqs)), "the outbox and seq carried on through the reloads"


def test_healthz_and_readyz_report_problems(tmp_path: Path) -> None:
    broker = None
    metrics_port = free_port()
    outbox_dir = tmp_path / "ro"
    outbox_dir.mkdir()
    config = write_config(tmp_path, free_port(), [("portal-3", free_port())], metrics_port)
    config.write_text(config.read_text().replace(str(tmp_path / "outbox.db"), str(outbox_dir / "sub" / "o.db")))
    outbox_dir.chmod(0o500)  # no subfolder can be made here...
    if os.geteuid() == 0:
        # ...except by root, who ignores permissions: make the outbox path a file's child instead
        outbox_dir.chmod(0o700)
        (outbox_dir / "sub").write_text("a file where a folder should be")
    gateway = spawn("run", "--config", str(config))
    lines = Lines(gateway)
    try:
        wait_until(lambda: get(metrics_port, "/healthz")[0] == 200, 20, "/healthz")
        code, body = get(metrics_port, "/readyz")
        assert code == 503 and "outbox" in body, body
        assert gateway.poll() is None, "a broken outbox path must not crash the daemon"
    finally:
        finish(gateway, lines)
        outbox_dir.chmod(0o700)
        del broker
