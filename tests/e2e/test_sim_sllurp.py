"""The simulator over real TCP: driven by sllurp's own client and by a raw LLRP socket."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sllurp.llrp import LLRPMessage, LLRPReaderClient, LLRPReaderConfig
from sllurp.llrp_proto import LLRPROSpec

from simulators.llrp import frames as f
from simulators.llrp.scenario import Scenario, load_scenario, scenario_from_dict
from simulators.llrp.server import LLRPSimulator

pytestmark = pytest.mark.timeout(30)

ALL_CONTENT = {
    "EnableROSpecID": True,
    "EnableAntennaID": True,
    "EnablePeakRSSI": True,
    "EnableFirstSeenTimestamp": True,
    "EnableLastSeenTimestamp": True,
    "EnableTagSeenCount": True,
}


def quick() -> Scenario:
    return load_scenario("simulators/llrp/examples/quick.yaml")


def always_visible(rate: float = 20.0) -> Scenario:
    return scenario_from_dict(
        {
            "name": "static",
            "read_rate": rate,
            "pallets": [
                {
                    "name": "p",
                    "location": "bench",
                    "tags": [{"sgtin": {"company_prefix": "0614141", "item_reference": "812345", "count": 2}}],
                    "visits": [{"start": 0, "end": "1m", "antennas": {1: -50, 3: -60}}],
                }
            ],
        }
    )


@pytest.fixture
def sim() -> Iterator[LLRPSimulator]:
    simulator = LLRPSimulator(quick(), port=0, speed=4.0)
    simulator.start()
    yield simulator
    simulator.stop()


class RawClient:
    """A minimal LLRP client on a plain socket, decoding with sllurp's decoder."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.parser = f.FrameParser()
        self.pending: list[f.Frame] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def frame(self, timeout: float = 5.0) -> f.Frame | None:
        """The next frame, or None on EOF."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            if not data:
                return None
            self.pending.extend(self.parser.feed(data))
        return self.pending.pop(0)

    def next(self, skip: tuple[int, ...] = (f.RO_ACCESS_REPORT, f.KEEPALIVE)) -> tuple[str, dict[str, Any], f.Frame]:
        while True:
            fr = self.frame()
            assert fr is not None, "connection closed"
            if fr.msg_type not in skip:
                break
        msg = LLRPMessage(msgbytes=f.message(fr.msg_type, fr.msg_id, fr.body))
        name = msg.getName()
        return name, msg.msgdict[name], fr

    def close(self) -> None:
        self.sock.close()


def sllurp_bytes(msg: dict[str, Any], msg_id: int) -> bytes:
    name = next(iter(msg))
    msg[name]["ID"] = msg_id
    return LLRPMessage(msgdict=msg).msgbytes  # type: ignore[no-any-return]


@pytest.fixture
def raw(sim: LLRPSimulator) -> Iterator[RawClient]:
    client = RawClient(sim.port)
    name, body, _ = client.next()
    assert name == "READER_EVENT_NOTIFICATION"
    assert body["ReaderEventNotificationData"]["ConnectionAttemptEvent"]["Status"] == "Success"
    yield client
    client.close()


def run_sllurp(port: int, seconds: float, config: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    tags: list[dict[str, Any]] = []
    lock = threading.Lock()

    def on_tags(_reader: object, reports: list[dict[str, Any]]) -> None:
        with lock:
            tags.extend(reports)

    cfg = {
        "antennas": [1, 2, 3, 4],
        "report_every_n_tags": 20,
        "report_timeout_ms": 200,
        "tag_content_selector": ALL_CONTENT,
        "start_inventory": True,
        "reset_on_connect": True,
    }
    cfg.update(config or {})
    client = LLRPReaderClient("127.0.0.1", port, LLRPReaderConfig(cfg))
    client.add_tag_report_callback(on_tags)
    client.connect()
    try:
        time.sleep(seconds)
    finally:
        client.disconnect()
        client.join(5)
    assert not client.is_alive()
    with lock:
        return list(tags)


def test_sllurp_inventories_the_scenario(sim: LLRPSimulator) -> None:
    started = time.time()
    tags = run_sllurp(sim.port, 1.6)  # 4x speed: the 4.5 s scenario is over after ~1.1 s
    epcs = {t["EPC"].decode().upper() for t in tags}
    assert epcs == {t.epc for t in quick().truth()}
    for tag in tags:
        assert tag["AntennaID"] in (1, 2, 3, 4)
        assert -70 < tag["PeakRSSI"] < -40
        assert tag["TagSeenCount"] == 1
        assert tag["ROSpecID"] == 1
        assert started * 1e6 <= tag["FirstSeenTimestampUTC"] == tag["LastSeenTimestampUTC"] <= time.time() * 1e6
    # pallet-a is on antennas 1-2, pallet-b on 3-4
    assert {t["AntennaID"] for t in tags if t["EPC"].startswith(b"3034257bf7194e40")} == {1, 2}
    # about 7 tags x 2 antennas x 1.5 s x 10 reads/s
    assert 150 <= len(tags) <= 230
    times = [t["FirstSeenTimestampUTC"] for t in tags]
    assert times == sorted(times)


def test_reports_honour_n_tags(sim: LLRPSimulator) -> None:
    sizes: list[int] = []
    client = LLRPReaderClient(
        "127.0.0.1",
        sim.port,
        LLRPReaderConfig(
            {
                "antennas": [1, 2, 3, 4],
                "report_every_n_tags": 7,
                "report_timeout_ms": 0,
                "tag_content_selector": ALL_CONTENT,
            }
        ),
    )
    client.add_tag_report_callback(lambda _r, tags: sizes.append(len(tags)))
    client.connect()
    time.sleep(1.0)
    client.disconnect()
    client.join(5)
    assert sizes and all(n == 7 for n in sizes[:-1])


def test_antenna_selection_is_honoured(sim: LLRPSimulator) -> None:
    tags = run_sllurp(sim.port, 1.4, {"antennas": [2, 3]})
    assert {t["AntennaID"] for t in tags} == {2, 3}


def test_reconnect_after_disconnect(sim: LLRPSimulator) -> None:
    first = run_sllurp(sim.port, 0.8)
    assert first
    deadline = time.monotonic() + 2
    while sim.client_connected and time.monotonic() < deadline:
        time.sleep(0.02)
    second = run_sllurp(sim.port, 0.8)
    assert second  # a fresh connection starts the scenario again
    assert {t["EPC"] for t in second} >= {t["EPC"] for t in first if t["AntennaID"] in (1, 2)}


def test_second_concurrent_client_is_refused(sim: LLRPSimulator, raw: RawClient) -> None:
    other = RawClient(sim.port)
    name, body, _ = other.next()
    assert name == "READER_EVENT_NOTIFICATION"
    status = body["ReaderEventNotificationData"]["ConnectionAttemptEvent"]["Status"]
    assert status == "Failed (a Client initiated connection already exists)"
    assert other.frame() is None  # closed by the reader
    other.close()
    raw.send(sllurp_bytes({"GET_READER_CAPABILITIES": {"RequestedData": 0}}, 5))
    name, body, _ = raw.next()
    assert name == "GET_READER_CAPABILITIES_RESPONSE" and body["ID"] == 5


def test_malformed_message_gets_error_and_connection_survives(raw: RawClient) -> None:
    bad_rospec = f.tlv(f.P_ROSPEC, struct.pack("!IBB", 9, 0, 0), b"\x00\xb7\x00\x40")  # AISpec runs past the end
    raw.send(f.message(f.ADD_ROSPEC, 77, bad_rospec))
    name, body, _ = raw.next()
    assert (name, body["ID"]) == ("ERROR_MESSAGE", 77)
    assert body["LLRPStatus"]["StatusCode"] == "ParameterError"
    assert body["LLRPStatus"]["ErrorDescription"]
    raw.send(f.message(f.DELETE_ROSPEC, 78, b"\x00\x00"))  # ROSpecID truncated
    name, body, _ = raw.next()
    assert (name, body["ID"], body["LLRPStatus"]["StatusCode"]) == ("ERROR_MESSAGE", 78, "ParameterError")
    raw.send(sllurp_bytes({"GET_READER_CAPABILITIES": {"RequestedData": 0}}, 79))
    name, body, _ = raw.next()
    assert (name, body["ID"]) == ("GET_READER_CAPABILITIES_RESPONSE", 79)


def test_unknown_message_type_gets_error(raw: RawClient) -> None:
    raw.send(f.message(555, 1234, b"\x01\x02"))
    name, body, _ = raw.next()
    assert (name, body["ID"]) == ("ERROR_MESSAGE", 1234)
    assert body["LLRPStatus"]["StatusCode"] == "UnsupportedMessage"
    raw.send(f.custom_message(1, 2, 1235))
    name, body, _ = raw.next()
    assert (name, body["ID"], body["LLRPStatus"]["StatusCode"]) == (
        "ERROR_MESSAGE",
        1235,
        "UnsupportedMessage",
    )


def test_impinj_enable_extensions_is_answered(raw: RawClient) -> None:
    raw.send(sllurp_bytes({"IMPINJ_ENABLE_EXTENSIONS": {}}, 40))
    name, body, _ = raw.next()
    assert (name, body["ID"], body["LLRPStatus"]["StatusCode"]) == (
        "IMPINJ_ENABLE_EXTENSIONS_RESPONSE",
        40,
        "Success",
    )


def test_garbage_header_closes_only_that_connection(sim: LLRPSimulator, raw: RawClient) -> None:
    raw.send(b"\xff\xff\x00\x00\x00\x00\x00\x00\x00\x2a" + b"junk")
    fr = raw.frame()
    assert fr is not None and fr.msg_type == f.ERROR_MESSAGE and fr.msg_id == 42
    assert raw.frame() is None
    deadline = time.monotonic() + 2
    while sim.client_connected and time.monotonic() < deadline:
        time.sleep(0.02)
    again = RawClient(sim.port)
    _name, body, _ = again.next()
    assert body["ReaderEventNotificationData"]["ConnectionAttemptEvent"]["Status"] == "Success"
    again.close()


def test_keepalives_arrive_at_the_configured_period(raw: RawClient) -> None:
    raw.send(
        sllurp_bytes(
            {
                "SET_READER_CONFIG": {
                    "ResetToFactoryDefaults": False,
                    "KeepaliveSpec": {"KeepaliveTriggerType": 1, "TimeInterval": 200},
                }
            },
            9,
        )
    )
    name, body, _ = raw.next()
    assert (name, body["ID"], body["LLRPStatus"]["StatusCode"]) == (
        "SET_READER_CONFIG_RESPONSE",
        9,
        "Success",
    )
    start = time.monotonic()
    stamps: list[float] = []
    while len(stamps) < 5:
        fr = raw.frame()
        assert fr is not None
        if fr.msg_type == f.KEEPALIVE:
            stamps.append(time.monotonic() - start)
            raw.send(f.message(f.KEEPALIVE_ACK, fr.msg_id))
    gaps = [b - a for a, b in zip([0.0, *stamps], stamps, strict=False)]
    assert all(0.15 <= g <= 0.4 for g in gaps), gaps


def test_close_connection_is_answered_then_closed(raw: RawClient) -> None:
    raw.send(f.message(f.CLOSE_CONNECTION, 321))
    name, body, _ = raw.next()
    assert (name, body["ID"], body["LLRPStatus"]["StatusCode"]) == (
        "CLOSE_CONNECTION_RESPONSE",
        321,
        "Success",
    )
    assert raw.frame() is None


def rospec_msg(start_trigger: str, msg_id: int, rospec_id: int = 5) -> bytes:
    spec = LLRPROSpec(None, rospec_id, antennas=[1, 3], tag_content_selector=ALL_CONTENT)
    spec["ROBoundarySpec"]["ROSpecStartTrigger"]["ROSpecStartTriggerType"] = start_trigger
    return sllurp_bytes({"ADD_ROSPEC": {"ROSpecID": rospec_id, "ROSpec": spec}}, msg_id)


def test_null_trigger_starts_on_start_rospec_and_get_report_flushes() -> None:
    with LLRPSimulator(always_visible(), port=0) as sim:
        client = RawClient(sim.port)
        client.next()
        client.send(rospec_msg("Null", 1))
        assert client.next()[0] == "ADD_ROSPEC_RESPONSE"
        client.send(sllurp_bytes({"ENABLE_ROSPEC": {"ROSpecID": 5}}, 2))
        assert client.next()[1]["LLRPStatus"]["StatusCode"] == "Success"
        time.sleep(0.3)
        client.send(f.message(f.GET_ROSPECS, 3))  # sllurp has no decoder for the response: walk it
        fr = client.frame()
        assert fr is not None and (fr.msg_type, fr.msg_id) == (f.GET_ROSPECS_RESPONSE, 3)
        status, rospec = f.iter_params(fr.body)
        assert status.type == f.P_LLRP_STATUS and struct.unpack_from("!H", status.value)[0] == 0
        assert rospec.type == f.P_ROSPEC
        assert struct.unpack_from("!IBB", rospec.value) == (5, 0, 1)  # enabled, waiting for START_ROSPEC
        client.send(f.message(f.GET_REPORT, 4))
        with pytest.raises(TimeoutError):  # not started: nothing to report
            client.frame(timeout=0.3)
        client.send(sllurp_bytes({"START_ROSPEC": {"ROSpecID": 5}}, 5))
        name, body, _ = client.next()
        assert (name, body["ID"], body["LLRPStatus"]["StatusCode"]) == ("START_ROSPEC_RESPONSE", 5, "Success")
        time.sleep(0.5)
        client.send(f.message(f.GET_REPORT, 6))
        name, body, _ = client.next(skip=())
        assert name == "RO_ACCESS_REPORT"
        reads = body["TagReportData"]
        assert 20 <= len(reads) <= 60  # 2 tags x 2 antennas x 20/s x ~0.5 s
        assert {r["AntennaID"] for r in reads} == {1, 3}
        assert {r["ROSpecID"] for r in reads} == {5}
        client.send(sllurp_bytes({"STOP_ROSPEC": {"ROSpecID": 5}}, 7))
        name, body, _ = client.next()
        assert (name, body["ID"]) == ("STOP_ROSPEC_RESPONSE", 7)
        client.send(sllurp_bytes({"DELETE_ROSPEC": {"ROSpecID": 9}}, 8))
        name, body, _ = client.next()
        assert (name, body["ID"], body["LLRPStatus"]["StatusCode"]) == (
            "DELETE_ROSPEC_RESPONSE",
            8,
            "FieldError",
        )
        client.close()


def test_stop_leaves_no_threads_behind() -> None:
    before = set(threading.enumerate())
    sim = LLRPSimulator(always_visible(), port=0)
    sim.start()
    sim.start()  # idempotent
    client = RawClient(sim.port)
    client.next()
    client.send(rospec_msg("Immediate", 1))
    client.send(sllurp_bytes({"ENABLE_ROSPEC": {"ROSpecID": 5}}, 2))
    client.next()
    client.next()
    assert len(set(threading.enumerate()) - before) == 2  # acceptor + one client
    sim.stop()
    sim.stop()
    assert set(threading.enumerate()) <= before
    while (fr := client.frame()) is not None:  # reports, then the reader closes the connection
        assert fr.msg_type == f.RO_ACCESS_REPORT
    client.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", sim.port), timeout=1).close()
