"""Retention end to end: the broker stays away, a small outbox fills, and the loss is counted, logged
and announced to consumers by ``gap_before``."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import threading
from pathlib import Path
from typing import Any

from tests.conftest import REPO, Subscriber, free_port, start_mosquitto, wait_until
from tests.e2e.test_e2e import spawn, start_simulator, stop

DEFAULT = REPO / "simulators" / "llrp" / "examples" / "default.yaml"


class Relay:
    """A TCP relay from ``port`` to the broker's ``target`` port, refusing connections until opened."""

    def __init__(self, port: int, target: int) -> None:
        self.port = port
        self.target = target
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    def open(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._start(self._accept, self._listener)

    def _start(self, target: Any, *args: socket.socket) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                self._start(self._pump, source, sink)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        for end in [*([self._listener] if self._listener else []), *self._sockets]:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)
        for end in [*([self._listener] if self._listener else []), *self._sockets]:
            end.close()


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
    # The broker itself never stops: the gateway reaches it through a relay that is closed while "the
    # broker is away". The subscriber is connected to the broker all along, so it sees everything the
    # gateway publishes the moment it gets through, gap_before first. (A broker stopped and restarted
    # with persistence was racy: mosquitto drops what arrives for a restored session before its client
    # is back.)
    broker = start_mosquitto(tmp_path)
    sub = Subscriber(broker, "dockgate/gw-ret/events/#")
    relay = Relay(broker_port, broker.port)
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
        relay.open()
        try:
            wait_until(lambda: len(sub.events()) >= 10, 30, "the kept events after the broker came")
            events = sub.events()
        finally:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(20)
            sub.close()
            relay.close()
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
