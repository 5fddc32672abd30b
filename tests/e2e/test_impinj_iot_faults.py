"""Each simulator fault survived by `dockgate run` with an impinj-iot reader, with the status and the log
line a field engineer needs; then reading goes on (quick.yaml, looped: the same pallets come again)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Broker, Subscriber, wait_until
from tests.e2e.test_e2e import QUICK, spawn, stop
from tests.e2e.test_impinj_iot import PASSWORD, impinj_reader, site, start_impinj, statuses

POINT = "{reader: r700-3, antennas: [1, 2, 3, 4]}"


class Run:
    """A simulator with ``faults`` and a gateway reading it; ``log``/``sim_log`` once stopped."""

    def __init__(
        self, tmp_path: Path, broker: Broker, sub: Subscriber, *sim_args: str, password: str = PASSWORD, more: str = ""
    ) -> None:
        self.sub = sub
        self.sim, port = start_impinj(tmp_path, QUICK, "--loop", *sim_args)
        reader = impinj_reader(tmp_path, "r700-3", f"http://127.0.0.1:{port}", password=password, more=more)
        self.config = site(tmp_path, broker.port, [reader], [POINT])
        self.gateway = spawn("run", "--config", str(self.config))
        self.log = self.sim_log = ""

    def status(self, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = 20) -> dict[str, Any]:
        wait_until(lambda: any(predicate(s) for s in statuses(self.sub, "r700-3")), timeout, what)
        return next(s for s in statuses(self.sub, "r700-3") if predicate(s))

    def events_after(self, status: dict[str, Any], what: str = "an arrival after the fault") -> None:
        """An arrival published after ``status`` came: reading went on."""

        def later() -> bool:
            return any(e["type"] == "arrived" and e["time"] > status["since"] for e in self.sub.events())

        wait_until(later, 30, what)

    def stop(self) -> None:
        code, self.log = stop(self.gateway)
        _, self.sim_log = stop(self.sim)
        assert code == 0, self.log
        assert PASSWORD not in self.log


@pytest.fixture
def run(tmp_path: Path, mosquitto: Broker, subscribe: Callable[[str], Subscriber]) -> Callable[..., Run]:
    made: list[Run] = []

    def make(*sim_args: str, **kw: Any) -> Run:
        r = Run(tmp_path, mosquitto, subscribe("dockgate/#"), *sim_args, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        if r.gateway.poll() is None or r.sim.poll() is None:
            r.stop()


def test_a_cut_stream_is_reopened_and_the_running_profile_kept(run: Callable[..., Run]) -> None:
    r = run("--fault", "cut-after=1s")
    lost = r.status(lambda s: s["state"] == "disconnected" and "closed the stream" in s["detail"], "the cut")
    r.status(lambda s: s["state"] == "connected" and s["since"] > lost["since"], "connected again")
    r.events_after(lost)
    r.stop()
    assert "event=reconnect reader=r700-3" in r.log and 'reason="the reader closed the stream"' in r.log
    assert "event=profile_still_running reader=r700-3" in r.log
    assert "starts=1 " in r.sim_log  # not started twice: the reader kept running


def test_a_stalled_stream_is_a_dead_one_after_three_keepalives(run: Callable[..., Run]) -> None:
    r = run("--fault", "stall-after=1s")
    lost = r.status(lambda s: "stalled stream" in s["detail"], "the stall noticed")
    assert lost["state"] == "disconnected"
    assert "3x keepalive 1s" in lost["detail"]
    r.events_after(lost)
    r.stop()
    assert "stalled stream" in r.log and "event=reconnect reader=r700-3" in r.log


def test_a_wrong_password_is_one_warning_a_slow_retry_and_recovers_once_fixed(
    run: Callable[..., Run], tmp_path: Path
) -> None:
    r = run(password="not-the-password")
    refused = r.status(lambda s: "401" in s["detail"], "the 401 in the status")
    assert refused["state"] == "disconnected"
    assert "check username (root) and the password" in refused["detail"]
    r.status(lambda s: "401" in s["detail"] and "(attempt 3," in s["detail"], "two retries", 30)
    (tmp_path / "r700-3.password").write_text(PASSWORD + "\n")  # the field engineer fixes the file
    ok = r.status(lambda s: s["state"] == "connected", "connected with the right password")
    r.events_after(ok)
    r.stop()
    warnings = [line for line in r.log.splitlines() if "event=reader_refused" in line]
    assert len(warnings) == 1, warnings  # one warning per episode, the reconnect lines say the rest
    assert "code=401" in warnings[0] and "todo=" in warnings[0]
    delays = [
        float(line.split("delay_s=")[1].split()[0])
        for line in r.log.splitlines()
        if "event=reconnect" in line and "401" in line
    ]
    assert len(delays) >= 2 and all(d >= 2.0 for d in delays), delays  # refused_retry 2s, never hammered
    assert "event=reader_accepted reader=r700-3 after=401" in r.log
    assert "not-the-password" not in r.log


def test_booting_503_then_unauthorized_then_reading(run: Callable[..., Run]) -> None:
    r = run("--fault", "booting-for=2s", "--fault", "unauthorized-for=4s")
    booting = r.status(lambda s: "503" in s["detail"], "503 in the status")
    assert "booting" in booting["detail"] and booting["state"] == "disconnected"
    refused = r.status(lambda s: "401" in s["detail"], "then 401 in the status")
    r.events_after(refused)
    r.stop()
    assert "503 The reader is booting" in r.log
    assert "event=reader_refused reader=r700-3 code=401" in r.log


def test_a_reboot_mid_inventory_comes_back_by_itself(run: Callable[..., Run]) -> None:
    r = run("--fault", "reboot-after=1500ms+2s")
    down = r.status(lambda s: "rebooting" in s["detail"], "503 rebooting in the status")
    r.events_after(down, "an arrival after the reboot")
    r.stop()
    assert "starts=2 " in r.sim_log and "reboots=1" in r.sim_log  # the profile was started again
    assert r.log.count("event=profile_started reader=r700-3") == 2


def test_an_overflow_is_counted_alarmed_and_reading_goes_on(run: Callable[..., Run]) -> None:
    r = run("--fault", "overflow-after=1s")
    lost = r.status(lambda s: "overflow" in s["detail"], "the overflow in the status")
    assert lost["overflows"] == 1 and lost["events_purged"] == 120
    assert "reads lost" in lost["detail"]
    r.events_after(lost)
    r.stop()
    assert "event=overflow reader=r700-3 purged=120" in r.log


def test_malformed_lines_are_counted_logged_and_skipped(run: Callable[..., Run]) -> None:
    r = run("--fault", "malformed-after=1s")
    counted = r.status(lambda s: s.get("malformed_lines") == 4, "malformed_lines in the status")
    r.events_after(counted)
    r.stop()
    lines = [line for line in r.log.splitlines() if "event=malformed_line" in line]
    assert len(lines) == 4 and "count=4" in lines[-1], lines
    assert "Traceback" not in r.log


def test_a_missing_preset_says_so_and_retries_slowly(run: Callable[..., Run]) -> None:
    r = run(more=", preset: dock-door")
    refused = r.status(lambda s: "no preset 'dock-door'" in s["detail"], "the missing preset in the status")
    assert "404" in refused["detail"] and refused["state"] == "disconnected"
    r.stop()
    assert "event=reader_refused reader=r700-3 code=404" in r.log


def test_a_reader_busy_with_another_profile_is_refused_unless_take_over(
    run: Callable[..., Run], tmp_path: Path
) -> None:
    r = run("--fault", "busy")
    busy = r.status(lambda s: "another profile is running" in s["detail"], "busy in the status")
    assert "take_over" in busy["detail"]
    r.stop()
    assert "starts=0 stops=0" in r.sim_log  # the other profile was left alone
    taken = run("--fault", "busy", more=", take_over: true")
    ok = taken.status(lambda s: s["state"] == "connected", "connected after taking over")
    taken.events_after(ok)
    taken.stop()
    assert "event=take_over reader=r700-3" in taken.log


def test_an_antenna_disconnected_shows_in_the_status(run: Callable[..., Run]) -> None:
    r = run("--fault", "antenna-off=2@1s")
    r.status(lambda s: s.get("antennas", {}).get("2") == "disconnected", "antenna 2 disconnected")
    r.stop()
    assert "event=antenna reader=r700-3 antenna=2 state=disconnected" in r.log


def test_one_refused_reader_does_not_stop_the_other(
    tmp_path: Path, mosquitto: Broker, subscribe: Callable[[str], Subscriber]
) -> None:
    sim, port = start_impinj(tmp_path, QUICK, "--loop")
    url = f"http://127.0.0.1:{port}"
    good = impinj_reader(tmp_path, "r700-3", url)
    bad = impinj_reader(tmp_path, "r700-4", url, password="wrong-password")
    config = site(tmp_path, mosquitto.port, [good, bad], [POINT, "{reader: r700-4, antennas: [1]}"])
    sub = subscribe("dockgate/#")
    gateway = spawn("run", "--config", str(config))
    try:
        wait_until(lambda: any("401" in s["detail"] for s in statuses(sub, "r700-4")), 20, "r700-4 refused")
        wait_until(lambda: len({e["epc"] for e in sub.events() if e["type"] == "departed"}) >= 3, 30, "r700-3 reads")
    finally:
        code, log = stop(gateway)
        stop(sim)
    assert code == 0, log
    assert {e["reader"] for e in sub.events()} == {"r700-3"}


def test_a_profile_stopped_by_someone_else_is_started_again(run: Callable[..., Run]) -> None:
    import base64
    import http.client

    r = run()
    ok = r.status(lambda s: s["state"] == "connected", "connected")
    port = int(r.config.read_text().split("http://127.0.0.1:")[1].split("'")[0])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    token = base64.b64encode(f"root:{PASSWORD}".encode()).decode()
    conn.request("POST", "/api/v1/profiles/stop", headers={"Authorization": f"Basic {token}"})
    assert conn.getresponse().status == 204  # someone stops the inventory in the reader's web page
    conn.close()
    stopped = r.status(lambda s: "inventory stopped" in s["detail"], "the stop noticed")
    assert stopped["since"] > ok["since"]
    r.events_after(stopped, "an arrival after the inventory was started again")
    r.stop()
    assert "starts=2 " in r.sim_log
    assert "event=inventory_status reader=r700-3 status=idle" in r.log
