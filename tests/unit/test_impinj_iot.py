"""The impinj-iot driver's parts without a network: settings, the InventoryRequest body, the chunked coding
and the line decoder split at every position, the password, the metric; and the simulator's independence."""

from __future__ import annotations

import ast
import base64
import json
import socket
import threading
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from drivers.impinj_iot.driver import ImpinjIotDriver, read_password
from drivers.impinj_iot.events import LineDecoder
from drivers.impinj_iot.http import ChunkedBody, Stream, StreamError
from drivers.impinj_iot.profile import inventory_request, start_request
from drivers.impinj_iot.session import ConnectionFailed, Refused, Session
from drivers.impinj_iot.settings import ImpinjInventorySettings, ImpinjIotReaderSettings
from gateway.domain.model import TagRead
from gateway.ops.logs import redact
from gateway.ops.snapshot import GatewaySnapshot
from simulators.impinj_iot.encoding import MALFORMED, TagLines, event_line
from tests.unit.test_metrics import _scrape

REPO = Path(__file__).resolve().parents[2]


def settings(**kw: object) -> ImpinjIotReaderSettings:
    return ImpinjIotReaderSettings.model_validate({"name": "r700-3", "type": "impinj-iot", "url": "r700.local", **kw})


def problem(**kw: object) -> str:
    with pytest.raises(ValidationError) as info:
        settings(**kw)
    return str(info.value)


def test_a_bare_host_is_https_and_http_must_be_asked_for() -> None:
    assert settings().url == "https://r700.local" and settings().is_https
    assert "insecure_http: true" in problem(url="http://10.0.0.8")
    assert settings(url="http://10.0.0.8:8080", insecure_http=True).url == "http://10.0.0.8:8080"
    assert "address only" in problem(url="https://r700.local/api/v1")
    assert "expected https://host" in problem(url="ftp://r700.local")


def test_preset_or_inventory_and_powers_for_every_antenna() -> None:
    assert "not both" in problem(preset="dock", inventory={})
    assert "preset id" in problem(preset="a b")
    text = problem(antennas=[1, 2], inventory={"tx_power": {1: 30, 3: 28}})
    assert "missing [2]" in text and "not an antenna of this reader [3]" in text
    assert "password_file or password_env" in problem(password_file="/x", password_env="X")


def test_the_transient_inventory_follows_the_inventory_request_model() -> None:
    inv = ImpinjInventorySettings(
        tx_power={1: 27.5, 2: 30},
        session=2,
        search_mode="single_target_suppression",
        filters=[{"mask": "3034", "bit_offset": 32}],
    )
    body = inventory_request([1, 2], inv)
    first, second = body["antennaConfigs"]
    assert first["antennaPort"] == 1 and first["transmitPowerCdbm"] == 2750 and second["transmitPowerCdbm"] == 3000
    assert first["inventorySession"] == 2 and first["inventorySearchMode"] == "single-target-with-tagfocus"
    assert first["filtering"]["filters"] == [
        {"action": "include", "tagMemoryBank": "epc", "bitOffset": 32, "mask": "3034"}
    ]
    assert body["eventConfig"]["tagInventory"]["epcHex"] == "enabled"
    assert start_request(settings(preset="dock-door")) == ("/api/v1/profiles/inventory/presets/dock-door/start", None)
    assert start_request(settings())[0] == "/api/v1/profiles/inventory/start"


def test_chunked_body_split_at_every_position() -> None:
    payload = [b'{"a":1}\n', b"\r\n", b'{"eventType":"x"}\n' * 3]
    wire = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in payload) + b"0\r\n\r\n"
    for cut in range(len(wire) + 1):
        body = ChunkedBody()
        got = body.feed(wire[:cut]) + body.feed(wire[cut:])
        assert got == b"".join(payload) and body.done, cut
    with pytest.raises(StreamError):
        ChunkedBody().feed(b"zz\r\n")


def _stream() -> bytes:
    tags = TagLines()  # the simulator's encoder: the driver decodes what an independent encoder wrote
    lines = [
        tags.line(bytes.fromhex("3034257bf7194e4000001a85"), 2, -52.4, 1_800_000_000.25, 902750, 12.5),
        "",  # keep-alive
        event_line("antennaDisconnected", {"antennaPort": 3}, 1_800_000_001.0),
        tags.line(bytes.fromhex("3114257bf43b9aca01000000"), 1, -61.0, 1_800_000_002.0, 903250, 300.0),
        *MALFORMED,
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_lines_decode_to_the_same_tag_read_as_llrp_whatever_the_split() -> None:
    data = _stream()
    for cut in range(len(data) + 1):
        decoder = LineDecoder("r700-3")
        a, b = decoder.feed(data[:cut], 5.0), decoder.feed(data[cut:], 5.0)
        reads = a.reads + b.reads
        assert reads == [
            TagRead("r700-3", 2, "3034257BF7194E4000001A85", -52.4, 5.0, 1_800_000_000.25, 1),
            TagRead("r700-3", 1, "3114257BF43B9ACA01000000", -61.0, 5.0, 1_800_000_002.0, 1),
        ], cut
        assert a.events + b.events == [("antennaDisconnected", {"antennaPort": 3})]
        assert a.keepalives + b.keepalives == 1
        assert len(a.malformed + b.malformed) == len(MALFORMED)


def test_an_epc_in_base64_only_is_read_too() -> None:
    line = json.dumps(
        {
            "eventType": "tagInventory",
            "tagInventoryEvent": {
                "epc": base64.b64encode(bytes.fromhex("300833b2ddd9014000000001")).decode(),
                "antennaPort": 4,
            },
        }
    )
    out = LineDecoder("r").feed(line.encode() + b"\n", 1.0)
    assert [(r.epc, r.antenna, r.rssi, r.reader_time) for r in out.reads] == [
        ("300833B2DDD9014000000001", 4, None, None)
    ]


def test_the_password_comes_from_the_credentials_directory_and_is_never_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "r700.pw").write_text("Sekret-4711\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert read_password(settings(password_file="r700.pw")) == "Sekret-4711"
    assert redact("reader=r700-3 detail=Sekret-4711") == "reader=r700-3 detail=***"  # the log filter's rule
    with pytest.raises(Refused, match=r"password_file: cannot read .*missing.pw"):
        read_password(settings(password_file="missing.pw"))
    monkeypatch.delenv("R700_PW", raising=False)
    with pytest.raises(Refused, match="R700_PW is not set"):
        read_password(settings(password_env="R700_PW"))


def test_purged_events_are_a_counter_per_reader() -> None:
    snap = GatewaySnapshot(
        gateway="gw",
        taken=0.0,
        readers={
            "r700-3": {"state": "connected", "overflows": 1, "events_purged": 120},
            "portal-3": {"state": "connected"},
        },
    )
    got = _scrape(snap)
    assert got[("dockgate_reader_events_purged_total", (("reader", "r700-3"),))] == 120
    assert ("dockgate_reader_events_purged_total", (("reader", "portal-3"),)) not in got


def test_the_simulator_shares_no_code_with_the_driver() -> None:
    for path in (REPO / "simulators" / "impinj_iot").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.startswith("drivers") for n in names), f"{path.name} imports {names}"


def test_a_refused_stream_is_read_whole_even_chunked_on_an_open_connection() -> None:
    ours, reader = socket.socketpair()
    try:
        body = b'{"message":"Unauthorized","detail":"bad credentials"}'
        reader.sendall(
            b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        )
        stream = Stream(ours, timeout=5)  # the reader keeps the connection open: the last chunk ends the body
        assert stream.answer is not None and stream.answer.status == 401
        assert stream.answer.message() == "Unauthorized: bad credentials"
    finally:
        ours.close()
        reader.close()


def test_a_stream_gives_its_body_then_eof_when_the_reader_closes() -> None:
    ours, reader = socket.socketpair()
    try:
        reader.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab\r\n\n\r\n")
        stream = Stream(ours, timeout=5)
        assert stream.answer is None
        assert stream.read() == b"ab\r\n\n"
        assert stream.read() == b""  # nothing within the poll: not an error
        reader.close()
        with pytest.raises(EOFError):
            stream.read()
    finally:
        ours.close()


def test_a_reader_event_with_a_bad_field_is_a_malformed_line_not_a_crash() -> None:
    ours, reader = socket.socketpair()
    reads: list[TagRead] = []
    driver = ImpinjIotDriver(settings(), reads.extend, lambda *a: None)
    body = (
        event_line("antennaConnected", {"antennaPort": "four"}, 1.0)
        + "\n"
        + TagLines().line(bytes.fromhex("3034257bf7194e4000001a85"), 1, -50, 2.0, 902750, 1.0)
        + "\n"
    ).encode()
    reader.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n" % (len(body), body))
    reader.close()

    class Endpoint:
        where = "socketpair"

        def open_stream(self, path: str) -> Stream:
            return Stream(ours, timeout=5)

    session = Session(settings(), Endpoint(), threading.Event(), driver)  # type: ignore[arg-type]
    try:
        with pytest.raises(ConnectionFailed, match="the reader closed the stream"):
            session.run()
    finally:
        ours.close()
    assert driver.malformed == 1 and session.malformed == 1
    assert [r.epc for r in reads] == ["3034257BF7194E4000001A85"]  # the line after it was read


def test_a_ca_file_that_cannot_be_loaded_is_a_clear_status_not_a_crash(tmp_path: Path) -> None:
    states: list[tuple[str, str]] = []
    s = settings(url="https://127.0.0.1:9", ca_file=str(tmp_path / "missing-ca.pem"), refused_retry=0.05)
    driver = ImpinjIotDriver(
        s, lambda reads: None, lambda name, state, detail, extra=None: states.append((state, detail))
    )
    driver.start()
    try:
        deadline = time.monotonic() + 10
        while not any("ca_file: cannot load" in d for _, d in states) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        driver.stop()
    refused = next(d for _, d in states if "ca_file: cannot load" in d)
    assert "missing-ca.pem" in refused and "fix ca_file" in refused
    assert states[-1] == ("disconnected", "stopped")
