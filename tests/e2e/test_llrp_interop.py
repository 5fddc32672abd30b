"""The gateway against a second, independent LLRP reader: ``tests/pyllrp_reader.py``, built on pyllrp's
codec, shares no code with dockgate's simulator or driver. `dockgate run` as a child process, a real
mosquitto: every tag the reader reports arrives, departs once the reader stops reporting it, and the
reader's status goes connected; the driver's messages are the ones LLRP asks for, in order."""

from __future__ import annotations

import json
import logging
import random
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Broker, Subscriber, wait_until
from tests.e2e.test_e2e import spawn, stop
from tests.llrp_harness import Collected, make_driver
from tests.pyllrp_reader import PyllrpReader

# Few tags: pyllrp encodes about 2.4k tags/s. One EPC of 128 bits goes as EPCData (TLV 241).
TAGS = {
    "3034257BF7194E4000001A85": 1,
    "3034257BF7194E4000001A86": 2,
    "3034257BF7194E4000001A87": 2,
    "E2801160600002054C9A1B2C3D4E5F60": 1,
}
SETUP = [
    "GET_READER_CAPABILITIES",
    "SET_READER_CONFIG",
    "ENABLE_EVENTS_AND_REPORTS",
    "DELETE_ROSPEC",
    "ADD_ROSPEC",
    "ENABLE_ROSPEC",
    "START_ROSPEC",
]
GOODBYE = ["STOP_ROSPEC", "DELETE_ROSPEC", "CLOSE_CONNECTION"]


@pytest.fixture
def reader() -> Iterator[PyllrpReader]:
    r = PyllrpReader(report_period=0.2).start()
    yield r
    r.stop()


def config(tmp_path: Path, broker_port: int, reader_port: int) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"""\
gateway: {{id: gw-interop}}
mqtt: {{host: 127.0.0.1, port: {broker_port}, topic_prefix: dockgate}}
readers:
  - {{name: pyllrp-1, type: llrp, host: 127.0.0.1, port: {reader_port}, antennas: [1, 2], keepalive: 1s}}
locations:
  - name: dock-7
    read_points: [{{reader: pyllrp-1, antennas: [1, 2]}}]
pipeline: {{arrive_min_reads: 2, arrive_window: 1s, depart_after: 1s}}
outbox: {{path: {tmp_path / "outbox.db"}}}
"""
    )
    return path


def test_every_tag_of_an_independent_reader_arrives_and_departs(
    tmp_path: Path, mosquitto: Broker, subscribe: Callable[[str], Subscriber], reader: PyllrpReader
) -> None:
    sub = subscribe("dockgate/#")
    reader.set_tags(TAGS)
    gateway = spawn("run", "--config", str(config(tmp_path, mosquitto.port, reader.port)))
    status_topic = "dockgate/gw-interop/readers/pyllrp-1/status"
    try:

        def events(kind: str) -> set[str]:
            return {e["epc"] for e in sub.events() if e["type"] == kind}

        wait_until(lambda: events("arrived") >= set(TAGS), 30, "every tag arrived")
        assert reader.state_of(1) == "Active"
        reader.set_tags({})  # the tags leave the field: no more tag reports
        wait_until(lambda: events("departed") >= set(TAGS), 15, "every tag departed")
        wait_until(lambda: reader.keepalive_acks >= 1, 5, "a KEEPALIVE acknowledged")
    finally:
        code, log = stop(gateway)
    assert code == 0, log
    assert not reader.errors, reader.errors
    # the driver read pyllrp's capabilities (the top of its power table) and its GET_ROSPECS_RESPONSE
    assert "event=tx_power reader=pyllrp-1 antenna=1 wanted_dbm=max used_dbm=30 index=21" in log, log
    assert "event=rospec_state reader=pyllrp-1 state=active" in log, log

    found = sub.events()
    assert sorted((e["epc"], e["type"]) for e in found) == sorted(
        (epc, kind) for epc in TAGS for kind in ("arrived", "departed")
    )  # each once: nothing more, no phantom
    for e in found:
        assert e["reader"] == "pyllrp-1" and e["location"] == "dock-7"
        assert e["antennas"] == [TAGS[e["epc"]]]
        assert e["rssi_max"] == -52 - TAGS[e["epc"]]
    states = [json.loads(p) for p in sub.on_topic(status_topic)]
    assert [s["state"] for s in states][-2:] == ["connected", "disconnected"], states
    assert any(s["state"] == "connected" and s["detail"] == "inventorying" for s in states), states

    # the driver spoke LLRP as the standard says, to a reader it was not written with
    received = reader.received
    assert [m for m in received if m in SETUP][: len(SETUP)] == SETUP, received
    assert "GET_ROSPECS" in received and received[-len(GOODBYE) :] == GOODBYE, received
    assert reader.connections == 1
    assert reader.state_of(1) is None  # deleted on the way out


# ---- hostile bytes from a reader: a clear reason and a reconnect at worst ---------------------------------


def _header(msg_type: int, length: int, msg_id: int = 9) -> bytes:
    return struct.pack("!HII", (1 << 10) | msg_type, length, msg_id)


HOSTILE = {
    # a 4 GiB length field: refused at once, nothing buffered
    "huge length": (_header(61, 2**32 - 1), "above the limit of 16777216 bytes"),
    # an RO_ACCESS_REPORT whose TagReportData runs past the message (sllurp alone would read a phantom EPC)
    "cut report": (_header(61, 10 + 8) + struct.pack("!HH", 240, 40) + b"\x8d\x00\x00\x00", "bad length 40"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_bytes_end_the_session_with_the_reason_and_the_driver_reads_again(
    name: str, reader: PyllrpReader
) -> None:
    data, reason = HOSTILE[name]
    reader.set_tags({"3034257BF7194E4000001A85": 1})
    collected = Collected()
    driver = make_driver(reader.port, collected, keepalive=1.0)
    driver.start()
    try:
        wait_until(lambda: len(collected.reads) > 0, 10, "first reads")
        reader.inject(data)
        wait_until(lambda: collected.status_seen("disconnected", reason), 10, f"the driver to refuse the {name}")
        noticed = time.monotonic()
        wait_until(lambda: collected.reads_after(noticed) > 0, 10, "reads again after a reconnect")
    finally:
        driver.stop()
    assert reader.connections == 2
    assert {r.epc for _, r in collected.reads} == {"3034257BF7194E4000001A85"}  # no phantom tag


def test_an_undecodable_event_is_logged_and_the_session_goes_on(reader: PyllrpReader) -> None:
    reader.set_tags({"3034257BF7194E4000001A85": 1})
    collected = Collected()
    driver = make_driver(reader.port, collected, keepalive=1.0)
    driver.start()
    try:
        wait_until(lambda: len(collected.reads) > 0, 10, "first reads")
        reader.inject(_header(63, 10 + 5) + b"\x00\xf6\x00\xfb\x00")  # a READER_EVENT_NOTIFICATION cut short
        sent = time.monotonic()
        wait_until(lambda: collected.reads_after(sent + 1.0) > 0, 10, "reads a second after the bad event")
    finally:
        driver.stop()
    assert reader.connections == 1
    assert not collected.status_seen("disconnected", "connection lost")


def test_a_flood_of_keepalives_is_answered_and_reading_goes_on(reader: PyllrpReader) -> None:
    reader.set_tags({"3034257BF7194E4000001A85": 1})
    collected = Collected()
    driver = make_driver(reader.port, collected, keepalive=1.0)
    driver.start()
    try:
        wait_until(lambda: len(collected.reads) > 0, 10, "first reads")
        before = reader.keepalive_acks
        reader.inject(b"".join(_header(62, 10, i) for i in range(20_000)))
        wait_until(lambda: reader.keepalive_acks >= before + 20_000, 30, "every KEEPALIVE acknowledged")
        flooded = time.monotonic()
        wait_until(lambda: collected.reads_after(flooded) > 0, 5, "reads after the flood")
    finally:
        driver.stop()
    assert reader.connections == 1  # no reconnect


def _storm(seed: int, count: int) -> list[bytes]:
    """Hostile messages with consistent headers: answers to the driver's requests (their ids are small)
    with a broken or odd LLRPStatus, reports cut or with random bytes changed, random bodies."""
    rng = random.Random(seed)
    report = _header(61, 10 + 21) + struct.pack("!HH", 240, 21) + b"\x8d" + bytes(range(12)) + b"\x81\x00\x01\x86\xc4"
    out = []
    for _ in range(count):
        kind = rng.randrange(3)
        if kind == 0:
            body = struct.pack("!HHHH", 287, 8 + rng.randrange(8), rng.randrange(300), rng.randrange(20))
            body += rng.randbytes(rng.randrange(12))
            msg_type = rng.choice([11, 13, 30, 31, 32, 33, 34, 36, 4, 100])
            out.append(_header(msg_type, 10 + len(body), rng.randrange(40)) + body)
        elif kind == 1:
            frame = bytearray(report)
            for _ in range(rng.randrange(1, 4)):
                frame[rng.randrange(10, len(frame))] = rng.randrange(256)
            out.append(bytes(frame))
        else:
            body = rng.randbytes(rng.randrange(40))
            out.append(_header(rng.choice([61, 63, 100, 1023, 5]), 10 + len(body), rng.randrange(40)) + body)
    return out


def test_a_storm_of_hostile_messages_never_crashes_the_session(
    reader: PyllrpReader, caplog: pytest.LogCaptureFixture
) -> None:
    """At worst a reconnect with the reason: never an exception the driver does not expect, which it
    would log as session_crashed and wait reconnect_delay_max for."""
    caplog.set_level(logging.INFO)
    reader.set_tags({"3034257BF7194E4000001A85": 1})
    collected = Collected()
    driver = make_driver(reader.port, collected, keepalive=1.0, reconnect_delay_min=0.05, reconnect_delay_max=0.3)
    driver.start()
    try:
        wait_until(lambda: len(collected.reads) > 0, 10, "first reads")
        storm = _storm(seed=13, count=150)
        for frame in storm:
            reader.inject(frame)
            time.sleep(0.02)
        calm = time.monotonic()
        wait_until(lambda: collected.reads_after(calm + 0.5) > 0, 10, "reads after the storm")
    finally:
        driver.stop()
    crashed = [r.getMessage() for r in caplog.records if "session_crashed" in r.getMessage() or r.exc_info]
    assert not crashed, crashed
    sent = b"".join(storm)  # a changed byte inside an EPC is a valid report of another tag; nothing else
    phantoms = {r.epc for _, r in collected.reads} - {"3034257BF7194E4000001A85"}
    assert all(bytes.fromhex(epc) in sent for epc in phantoms), phantoms
    assert not reader.errors, reader.errors
