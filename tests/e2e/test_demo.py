"""`dockgate demo` runs with nothing else installed, shows delivered events and stops cleanly on Ctrl-C:
plain lines through a pipe, the live view on a terminal (a pseudo-terminal here)."""

from __future__ import annotations

import http.client
import json
import os
import pty
import re
import select
import signal
import stat
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import REPO

ENV = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")


def run_piped(
    *args: str, until: Callable[[str], bool], timeout: float = 40, during: Callable[[str], None] | None = None
) -> tuple[int, str, str]:
    """Start `dockgate demo ARGS` with pipes, wait until ``until(output)``, call ``during(output)`` if given
    (the demo still running), press Ctrl-C, return (code, out, err)."""
    demo = subprocess.Popen(
        [sys.executable, "-m", "gateway", "demo", *args],
        cwd=REPO,
        env=ENV,
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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until("".join(lines)) and demo.poll() is None:
        time.sleep(0.2)
    try:
        if during is not None and demo.poll() is None:
            during("".join(lines))
    finally:
        demo.send_signal(signal.SIGINT)
    try:
        code = demo.wait(30)
    finally:
        if demo.poll() is None:
            demo.kill()
    reader.join(5)
    err = demo.stderr.read() if demo.stderr else ""
    return code, "".join(lines), err


def test_demo_prints_delivered_events_and_stops_on_ctrl_c() -> None:
    code, text, err = run_piped(until=lambda out: " ARRIVED " in out)
    assert code == 0, f"exit {code}\n{text}\n{err}"
    assert re.search(r"MQTT broker: +127\.0\.0\.1:\d+", text)
    assert "mosquitto_sub -h 127.0.0.1 -p" in text
    assert "scenario in-and-out" in text  # the library's default scenario
    assert re.search(r"#1 +ARRIVED +dock-3 +[0-9A-F]{24}", text), text
    assert "gateway status: online" in text
    assert "stopping..." in text
    assert "Traceback" not in err


def _get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET, redirects not followed."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("GET", parts.path, headers={"Cookie": f"dockgate_session={cookie}"} if cookie else {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_demo_prints_a_one_time_link_to_the_door_board() -> None:
    seen: dict[str, Any] = {}

    def use_the_link(text: str) -> None:
        match = re.search(r"^Door board: (http://127\.0\.0\.1:\d+/login/once/[A-Za-z0-9_-]+)$", text, re.MULTILINE)
        assert match, text
        link = match.group(1)
        seen["first"] = status, headers, _ = _get(link)
        cookie = re.match(r"dockgate_session=([^;]+);", headers.get("set-cookie", ""))
        assert status == 303 and headers["location"] == "/" and cookie, headers
        assert "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
        base = link.split("/login/", 1)[0]
        for path in ("/api/v1/doors/dock-3", "/api/v1/locations/dock-3/present"):
            status, _, body = _get(base + path, cookie.group(1))
            assert status == 200, (path, body)
            assert json.loads(body)["location"] == "dock-3"
        for path in ("/", "/doors/dock-3"):  # where the link lands, and a door's board: the pages themselves
            status, headers, body = _get(base + path, cookie.group(1))
            assert status == 200 and headers["content-type"].startswith("text/html"), (path, status)
            assert b'src="/static/board.js"' in body, path
        assert _get(base + "/static/board.js")[0] == 200
        assert _get(base + "/api/v1/doors/dock-3")[0] == 401  # the link, not the address, opens it
        seen["second"] = _get(link)
        assert _get(base + "/logout", cookie.group(1))[0] == 303
        assert _get(base + "/api/v1/doors/dock-3", cookie.group(1))[0] == 401  # logged out

    code, text, err = run_piped(until=lambda out: "Door board: " in out, during=use_the_link)
    assert code == 0, f"exit {code}\n{text}\n{err}"
    assert seen["second"][0] == 401 and "set-cookie" not in seen["second"][1]  # used once already
    assert "Traceback" not in err


def test_demo_board_token_is_owner_only_and_the_listener_local(tmp_path: Path) -> None:
    from gateway.cli.demo.setup import BOARD_HOLDER, demo_config, scenario_path, write_board_token
    from simulators.llrp.scenario import load_scenario

    token = write_board_token(tmp_path)
    assert stat.S_IMODE(token.stat().st_mode) == 0o600 and len(token.read_text().strip()) >= 32
    config = demo_config(load_scenario(scenario_path(None)), 1883, 5084, tmp_path / "outbox.db", False, token)
    assert config.metrics.listen and config.metrics.listen.startswith("127.0.0.1:")
    assert [(t.name, t.role, t.file) for t in config.api.tokens] == [(BOARD_HOLDER, "viewer", token)]


def test_demo_with_epcis_and_a_library_scenario_by_name() -> None:
    code, text, err = run_piped(
        "--scenario", "back-to-back", "--epcis", until=lambda out: "EPCIS dockgate/gw-demo/epcis/" in out
    )
    assert code == 0, f"exit {code}\n{text}\n{err}"
    assert "scenario back-to-back" in text
    assert re.search(
        r"EPCIS dockgate/gw-demo/epcis/dock-\d: ObjectEvent OBSERVE arriving/- urn:epc:id:\S+ at "
        r"urn:epc:id:sgln:0614141\.\d{5}\.1 ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0",
        text,
    ), text
    assert "Traceback" not in err


def test_demo_refuses_an_unknown_scenario_and_names_the_library() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "demo", "--scenario", "no-such-door"],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--scenario no-such-door: no such scenario in the library (" in result.stderr
    assert "in-and-out" in result.stderr and "back-to-back" in result.stderr


def test_demo_live_view_on_a_terminal_stops_on_ctrl_c() -> None:
    controller, terminal = pty.openpty()
    demo = subprocess.Popen(
        [sys.executable, "-m", "gateway", "demo", "--epcis"],
        cwd=REPO,
        env=dict(ENV, COLUMNS="120", LINES="50", TERM="xterm-256color"),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,  # Ctrl-C is delivered below, to the demo alone
    )
    os.close(terminal)
    screen = b""

    def read_for(seconds: float, until: bytes | None = None) -> None:
        nonlocal screen
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (until and until in screen):
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    screen += os.read(controller, 65536)
                except OSError:  # the demo closed the terminal
                    return

    try:
        read_for(40, until=b"arrived")
        text = screen.decode(errors="replace")
        for title in ("dockgate demo", "readers and antennas", "outbox and broker", "tags present", "last events"):
            assert title in text, text[-3000:]
        assert "EPCIS 2.0 ObjectEvents" in text
        assert "arrived" in text, text[-3000:]
        demo.send_signal(signal.SIGINT)
        code = demo.wait(30)
        read_for(1)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        os.close(controller)
    text = screen.decode(errors="replace")
    assert code == 0, text[-3000:]
    assert "stopping..." in text
    assert "Traceback" not in text


def test_screen_shows_the_watch_and_the_gateway_snapshot() -> None:
    """The live view is drawn from what the watch was shown and the gateway's snapshot alone."""
    from pathlib import Path

    from rich.console import Console

    from gateway.cli.demo.screen import Header, render
    from gateway.cli.demo.setup import demo_config, scenario_path
    from gateway.cli.demo.watch import DoorWatch
    from gateway.domain.model import TagRead
    from gateway.ops.snapshot import BrokerFigures, GatewaySnapshot, OutboxFigures
    from simulators.llrp.scenario import load_scenario

    config = demo_config(load_scenario(scenario_path(None)), 1883, 5084, Path("/nonexistent/outbox.db"), False)
    watch = DoorWatch(config)
    (reader, antenna), (location, side) = min(watch.sides.items())
    epc = "3034257BF7194E4000001A85"
    watch.tap_batch([TagRead(reader, antenna, epc, -55.0, 0.0), TagRead(reader, antenna, epc, -50.0, 0.0)])
    watch.message("dockgate/gw-demo/status", b"online")
    watch.message("dockgate/gw-demo/events/dock-3", b'{"type": "arrived", "seq": 7, "epc": "%s"}' % epc.encode())
    snapshot = GatewaySnapshot(
        gateway="gw-demo",
        readers={reader: {"state": "connected"}},
        outbox=OutboxFigures(pending=3, last_seq=7, added=7, acknowledged=4, dropped={"max_events": 1}),
        broker=BrokerFigures(connected=True, in_flight=2),
    )
    console = Console(record=True, width=160, color_system=None)
    header = Header("in-and-out", "127.0.0.1:1883", "mosquitto_sub ...", 0.0)
    console.print(render(watch.view(), snapshot, header, False))
    text = console.export_text()
    assert "3 pending, last seq 7" in text and "7 stored, 4 acknowledged, 1 dropped" in text, text
    assert re.search(r"in flight\s+2\b", text) and "connected" in text and "online" in text, text
    assert "tags present (1)" in text and epc in text and "arrived" in text, text
    assert re.search(rf"{reader}\s+{antenna}\s+{location}\s+{side or '-'}\s+1\s+2\b", text), text  # 2 reads in 2 s


def test_demo_of_a_shipment_loaded_with_a_case_missing_and_a_wrong_pallet() -> None:
    code, text, err = run_piped(
        "--scenario", "shipment-demo", until=lambda out: "SHIPMENT_EXCEPTION" in out, timeout=75
    )
    assert code == 0, f"exit {code}\n{text}\n{err}"
    assert "door dock-3: OPEN SO-4001-1 0/12" in text, text
    assert re.search(r"door dock-3: LOADING SO-4001-1 11/12 missing \['urn:epc:id:sgtin:0614141\.820402\.5'\]", text)
    assert len(re.findall(r"EXCEPTION UNEXPECTED_ITEM \(SO-4001-1\) dock-3", text)) == 4, text  # pallet-x, at once
    (verdict,) = [line for line in text.splitlines() if "SHIPMENT_EXCEPTION" in line]
    assert "SO-4001-1 at dock-3: 11/12 passed; missing ['urn:epc:id:sgtin:0614141.820402.5']" in verdict
    assert "3114257BF43B9ACB93000000" in verdict  # pallet-x's SSCC among the unexpected


def test_screen_shows_each_doors_shipment_in_colour_and_what_is_wrong() -> None:
    from rich.console import Console

    from gateway.cli.demo.screen import Header, render
    from gateway.cli.demo.watch import WatchView
    from gateway.ops.snapshot import GatewaySnapshot

    door = {
        "location": "dock-3",
        "state": "exception",
        "shipment": "SO-4001-1",
        "seen": 11,
        "expected": 12,
        "missing": ["urn:epc:id:sgtin:0614141.820402.5"],
        "unexpected": [{"epc": "3114257BF43B9ACB93000000", "uri": "urn:epc:id:sscc:0614141.1000000403"}],
        "wrong_door": [],
        "wrong_direction": [],
    }
    snapshot = GatewaySnapshot(
        gateway="gw-demo", doors={"dock-3": door, "dock-4": {"location": "dock-4", "state": "idle"}}
    )
    empty = WatchView({}, Counter(), Counter(), Counter(), [], [], [], Counter(), {}, "online")
    console = Console(record=True, width=160, color_system=None)
    console.print(render(empty, snapshot, Header("shipment-demo", "127.0.0.1:1883", "mosquitto_sub ...", 0.0), False))
    text = console.export_text()
    assert "shipments at the doors" in text, text
    assert re.search(
        r"dock-3\s+EXCEPTION\s+SO-4001-1\s+11/12\s+sgtin:0614141\.820402\.5\s+sscc:0614141\.1000000403", text
    )
    assert re.search(r"dock-4\s+IDLE\s+-", text), text
