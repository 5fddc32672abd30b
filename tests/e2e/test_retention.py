"""Retention end to end: the broker stays away, a small outbox fills, and the loss is counted, logged
and announced to consumers by ``gap_before``."""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path

from tests.conftest import REPO, Subscriber, free_port, start_mosquitto, wait_until
from tests.e2e.test_e2e import spawn, start_simulator, stop

DEFAULT = REPO / "simulators" / "llrp" / "examples" / "default.yaml"


def test_small_outbox_drops_are_counted_logged_and_announced(tmp_path: Path) -> None:
    broker_port = free_port()
    sim, sim_port = start_simulator(DEFAULT, "--loop", "--speed", "3")
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"""\
gateway: {{id: gw-ret}}
mqtt: {{host: 127.0.0.1, port: {broker_port}, reconnect_delay_max: 1s}}
readers:
  - {{name: portal-3, type: llrp, host: 127.0.0.1, port: {sim_port}, antennas: [1, 2, 3, 4]}}
locations:
  - name: dock-3
    read_points: [{{reader: portal-3}}]
pipeline: {{depart_after: 1s}}
outbox: {{path: {tmp_path / "outbox.db"}, max_events: 10, policy: drop_oldest}}
metrics: {{listen: off}}
"""
    )
    # the subscriber's session exists before the gateway starts, so it misses nothing the gateway publishes
    # the moment the broker comes back (a subscriber that connects then may come too late for the first
    # events, which are the ones with gap_before)
    broker = start_mosquitto(tmp_path, broker_port, persistent=True)
    sub = Subscriber(broker, "dockgate/gw-ret/events/#", session_id="retention-check")
    broker.stop()
    gateway = spawn("run", "--config", str(config))
    lines: list[str] = []
    assert gateway.stderr is not None
    stream = gateway.stderr
    reader = threading.Thread(target=lambda: lines.extend(stream), daemon=True)
    reader.start()

    def dropped() -> int:
        return sum(
            int(m.group(1)) for line in list(lines) for m in [re.search(r"events_dropped .*count=(\d+)", line)] if m
        )

    try:
        wait_until(lambda: dropped() >= 15, 60, "the outbox to overflow while the broker is away")
        broker.restart()
        try:
            wait_until(lambda: len(sub.events()) >= 10, 30, "the kept events after the broker came")
            events = sub.events()
        finally:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(20)
            sub.close()
            broker.stop()
    finally:
        if gateway.poll() is None:
            gateway.kill()
        stop(sim)
    reader.join(5)
    log = "".join(lines)
    assert gateway.returncode == 0, log

    # every drop was logged with its seq range, as drop_oldest
    ranges = re.findall(r"event=events_dropped reason=drop_oldest count=(\d+) seq_ranges=(\S+)", log)
    assert ranges
    lost: set[int] = set()
    for _, spec in ranges:
        for part in spec.strip('"').split(","):
            lo, _, hi = part.partition("-")
            lost.update(range(int(lo), int(hi or lo) + 1))
    # consumers see a seq jump exactly where gap_before says, and it counts exactly the lost seqs
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)
    previous = 0
    announced = 0
    for event in events:
        gap = event["seq"] - previous - 1
        if gap:
            assert event.get("gap_before") == gap, (event, previous)
            assert set(range(previous + 1, event["seq"])) <= lost
            announced += gap
        else:
            assert "gap_before" not in event
        previous = event["seq"]
    assert announced >= 15
    assert not lost & set(seqs), "a seq logged as lost was delivered"
