"""A GPI port the reader does not have (``gpi: {port: 9}`` on the simulator's generic profile, 2 GPIs): the
driver reads ungated, says so in the status detail and in a warning naming the setting, instead of waiting
forever for a GPI that cannot come while the reader looks ``connected`` (issue 20, defect 2;
docs/llrp.md, Settings a reader does not support)."""

from __future__ import annotations

import time

import pytest

from simulators.llrp.server import LLRPSimulator
from tests.conftest import wait_until
from tests.llrp_harness import Collected, make_driver, steady_scenario

pytestmark = pytest.mark.timeout(60)


def test_a_gpi_port_beyond_the_readers_gpis_falls_back_to_ungated_reading_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    collected = Collected()
    sim = LLRPSimulator(steady_scenario())  # generic: 2 GPIs
    sim.start()
    driver = make_driver(sim.port, collected, gpi={"port": 9, "linger": 0.2})
    try:
        with caplog.at_level("WARNING", logger="drivers.llrp"):
            driver.start()
            wait_until(lambda: len(collected.reads) > 0, 10, "reads although the GPI never comes")
            wait_until(lambda: collected.status_seen("connected", "inventorying"), 10, "inventorying")
    finally:
        driver.stop()
        sim.stop()
    assert collected.status_seen("connected", "ungated: gpi.port 9 is beyond the reader's 2 GPIs")
    warnings = [r.getMessage() for r in caplog.records if "setting_unsupported" in r.getMessage()]
    assert any("setting=gpi.port" in w and "value=9" in w and "fallback=ungated" in w for w in warnings), warnings


def test_a_gpi_port_the_reader_has_still_gates(caplog: pytest.LogCaptureFixture) -> None:
    """The control: port 2 exists, no GPI pulse comes, so nothing is read and the status waits for the GPI."""
    collected = Collected()
    sim = LLRPSimulator(steady_scenario())
    sim.start()
    driver = make_driver(sim.port, collected, gpi={"port": 2, "linger": 0.2})
    try:
        driver.start()
        wait_until(lambda: collected.status_seen("connected", "waiting for GPI"), 10, "waiting for GPI")
        time.sleep(1.0)
    finally:
        driver.stop()
        sim.stop()
    assert collected.reads == []
    assert not collected.status_seen("connected", "ungated")
