"""The LLRP driver against the in-process simulator's faults: each test states the bound within which
the driver must notice the fault and read again."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from simulators.llrp import frames as f
from simulators.llrp.faults import parse_fault
from simulators.llrp.server import LLRPSimulator
from tests.conftest import wait_until
from tests.llrp_harness import Collected, make_driver, steady_scenario

KEEPALIVE_S = 0.5
BACKOFF_MAX_S = 1.0
# Noticing plus reconnecting: 2x keepalive for the watchdog, one backoff step at most, and a generous
# margin for a loaded CI machine (the handshake itself takes milliseconds).
MARGIN_S = 3.0


@pytest.fixture
def collected() -> Collected:
    return Collected()


def run_with_fault(fault: str, collected: Collected, **driver: object) -> Iterator[LLRPSimulator]:
    sim = LLRPSimulator(steady_scenario(), faults=[parse_fault(fault)])
    sim.start()
    d = make_driver(sim.port, collected, keepalive=KEEPALIVE_S, reconnect_delay_max=BACKOFF_MAX_S, **driver)
    d.start()
    try:
        yield sim
    finally:
        d.stop()
        sim.stop()


def fault_then_recovery(collected: Collected, fault_at: float, bound: float) -> float:
    """Wait for the driver to report the loss and then reads again; return the recovery time."""
    wait_until(lambda: collected.status_seen("disconnected"), fault_at + bound, "the driver to notice the fault")
    noticed = time.monotonic()
    wait_until(lambda: collected.reads_after(noticed) > 0, bound, "reads again after the fault")
    return time.monotonic() - noticed


def test_drop_is_noticed_and_reading_resumes(collected: Collected) -> None:
    for sim in run_with_fault("drop-after=1s", collected):
        wait_until(lambda: len(collected.reads) > 0, 5, "first reads")
        bound = BACKOFF_MAX_S + MARGIN_S
        fault_then_recovery(collected, 1.0, bound)
        assert collected.status_seen("disconnected", "closed the connection")
        assert sim.client_connected


def test_half_open_is_noticed_within_twice_the_keepalive_plus_backoff(collected: Collected) -> None:
    for _sim in run_with_fault("silent-after=1s", collected):
        wait_until(lambda: len(collected.reads) > 0, 5, "first reads")
        start = time.monotonic()
        wait_until(lambda: collected.status_seen("disconnected"), 1.0 + 2 * KEEPALIVE_S + MARGIN_S, "half-open noticed")
        assert collected.status_seen("disconnected", "half-open")
        noticed = time.monotonic()
        wait_until(lambda n=noticed: collected.reads_after(n) > 0, BACKOFF_MAX_S + MARGIN_S, "reads after reconnect")
        # the whole outage stays within 2x keepalive + backoff (+ margin), measured from the fault
        assert time.monotonic() - start <= 1.0 + 2 * KEEPALIVE_S + BACKOFF_MAX_S + 2 * MARGIN_S


def test_garbage_frame_is_noticed_and_reading_resumes(collected: Collected) -> None:
    for _sim in run_with_fault("garbage-after=1s", collected):
        wait_until(lambda: len(collected.reads) > 0, 5, "first reads")
        fault_then_recovery(collected, 1.0, BACKOFF_MAX_S + MARGIN_S)
        assert collected.status_seen("disconnected", "bad LLRP header")


def test_antenna_events_show_in_the_status_and_reads_go_on(collected: Collected) -> None:
    sim = LLRPSimulator(
        steady_scenario(antennas=(1, 2)), faults=[parse_fault("antenna-off=2@1s"), parse_fault("antenna-on=2@2s")]
    )
    sim.start()
    d = make_driver(sim.port, collected)
    d.start()
    try:

        def antenna2(state: str) -> bool:
            last = collected.last_status()
            return bool(last and last[3] and last[3].get("antennas", {}).get("2") == state)

        wait_until(lambda: antenna2("disconnected"), 5, "antenna 2 disconnected in the status")
        off = time.monotonic()
        wait_until(lambda: antenna2("connected"), 5, "antenna 2 connected again")
        assert collected.reads_after(off) > 0
        assert not collected.status_seen("disconnected")  # the connection itself never dropped
    finally:
        d.stop()
        sim.stop()


def test_a_reader_held_by_another_client_is_reported_and_retried(collected: Collected) -> None:
    sim = LLRPSimulator(steady_scenario())
    sim.start()
    holder = socket.create_connection(("127.0.0.1", sim.port))
    wait_until(lambda: sim.client_connected, 5, "the other client to hold the reader")
    d = make_driver(sim.port, collected)
    d.start()
    try:
        wait_until(lambda: collected.status_seen("disconnected", "another client holds the reader"), 5, "refusal")
        holder.close()
        released = time.monotonic()
        wait_until(lambda: collected.reads_after(released) > 0, BACKOFF_MAX_S + MARGIN_S + 2, "reads once released")
    finally:
        holder.close()
        d.stop()
        sim.stop()


def test_error_message_to_enable_events_and_reports_is_tolerated(collected: Collected) -> None:
    sim = LLRPSimulator(steady_scenario(), quirks=["error-on-events-and-reports"])
    sim.start()
    d = make_driver(sim.port, collected)
    d.start()
    try:
        wait_until(lambda: len(collected.reads) > 0, 5, "reads despite the ERROR_MESSAGE")
        assert not collected.status_seen("disconnected")
    finally:
        d.stop()
        sim.stop()


def test_clean_stop_sends_close_connection(collected: Collected) -> None:
    sim = LLRPSimulator(steady_scenario())
    sim.start()
    d = make_driver(sim.port, collected)
    d.start()
    try:
        wait_until(lambda: len(collected.reads) > 0, 5, "reads")
    finally:
        d.stop()
    try:
        assert sim.close_connections == 1
        assert collected.last_status() is not None and collected.last_status()[1:3] == ("disconnected", "stopped")
    finally:
        sim.stop()


def test_vendor_presets_pick_nearest_power_and_fall_back(
    collected: Collected, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="drivers.llrp")
    sim = LLRPSimulator(steady_scenario(), vendor="zebra")
    sim.start()
    # Zebra offers 0.1 dB steps: 20.04 -> 20.0; an Impinj search mode on a Zebra is warned and dropped.
    d = make_driver(sim.port, collected, vendor="zebra", tx_power={1: 20.04, 2: 40}, search_mode="dual_target")
    d.start()
    try:
        wait_until(lambda: len(collected.reads) > 0, 5, "reads")
    finally:
        d.stop()
        sim.stop()
    text = caplog.text
    assert "antenna=1 wanted_dbm=20.04 used_dbm=20 " in text
    assert "antenna=2 wanted_dbm=40 used_dbm=31.5 " in text
    assert "setting=search_mode" in text and "manufacturer=10642" in text
    assert "session=0" in text


def test_one_failing_reader_does_not_slow_another(collected: Collected) -> None:
    healthy = LLRPSimulator(steady_scenario(read_rate=50))
    healthy.start()
    other = Collected()
    good = make_driver(healthy.port, collected)
    # a reader that accepts TCP and never answers: its thread waits on response timeouts
    mute = socket.create_server(("127.0.0.1", 0))
    bad = make_driver(mute.getsockname()[1], other, name="mute")
    bad.start()
    good.start()
    try:
        wait_until(lambda: len(collected.reads) > 0, 5, "reads from the healthy reader")
        t = time.monotonic()
        time.sleep(1.0)
        assert collected.reads_after(t) > 0
        assert not other.reads
    finally:
        good.stop()
        bad.stop()
        mute.close()
        healthy.stop()


def test_simulator_sends_gpi_and_antenna_events_only_when_enabled() -> None:
    # frames sanity: the encoders produce what sllurp decodes
    from drivers.llrp.wire import decode

    _, msg = decode(f.reader_event(1, 5, f.gpi_event(3, True)))
    assert msg["ReaderEventNotificationData"]["GPIEvent"] == {"GPIPortNumber": 3, "GPIEvent": True}
