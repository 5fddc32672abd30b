"""Tuning a door from its own reads (issue 17): ``dockgate run --record`` against the LLRP simulator over TCP
and a real mosquitto, then ``dockgate bench accuracy --recording`` scores the recording against the truth
the engineer wrote down, with the door's settings and with one tried instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from simulators.llrp.scenario import load_scenario
from tests.conftest import Broker, Subscriber, wait_until
from tests.e2e.test_e2e import QUICK, gateway_config, spawn, start_simulator, stop

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _bench(*args: str) -> tuple[int, str]:
    process = spawn("bench", "accuracy", *args)
    out, err = process.communicate(timeout=60)
    return process.returncode, out + err


def test_a_recorded_door_is_scored_against_its_truth_and_a_setting_can_be_tried(
    tmp_path: Path, mosquitto: Broker
) -> None:
    sim, reader = start_simulator(QUICK)
    config = gateway_config(tmp_path, mosquitto.port, reader)
    recording = tmp_path / "dock-3.reads.jsonl"
    truth = load_scenario(QUICK).truth()
    sub = Subscriber(mosquitto, "dockgate/#")
    gateway = spawn("run", "--config", str(config), "--record", str(recording))
    try:
        wait_until(lambda: len(sub.events()) >= 2 * len(truth), 40, "every arrival and departure")
    finally:
        code, log = stop(gateway)
        stop(sim)
        sub.close()
    assert code == 0, log
    assert "event=recording_reads" in log and "event=recorded_reads" in log
    lines = [json.loads(line) for line in recording.read_text().splitlines()]
    assert lines and set(lines[0]) == {"t", "reader", "antenna", "epc", "rssi"} and lines[0]["reader"] == "portal-3"
    assert {line["epc"] for line in lines} == {v.epc for v in truth}
    # what the engineer saw, in seconds from the first read (here: the scenario's truth, shifted so)
    first = min(v.start_s for v in truth)
    written = [
        {"epcs": [v.epc], "location": v.location, "start": v.start_s - first, "end": v.end_s - first} for v in truth
    ]
    (tmp_path / "truth.yaml").write_text(yaml.safe_dump(written))
    given = ["--recording", str(recording), "--truth", str(tmp_path / "truth.yaml"), "--config", str(config)]
    code, out = _bench(*given)
    assert code == 0, out
    row = out.splitlines()[-1].split()
    assert row[0] == "dock-3.reads" and row[2:4] == ["1.000", "1.000"], out  # precision, recall
    code, out = _bench(*given, "--set", "pipeline.depart_after=0.05")  # splits every visit at the read gaps
    assert code == 0, out
    assert float(out.splitlines()[-1].split()[2]) < 0.9, out
    code, out = _bench(*given, "--set", "depart_after=1")
    assert code != 0 and "expected SECTION.KEY=VALUE" in out
