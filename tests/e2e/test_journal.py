"""The journal end to end: a real gateway on the LLRP simulator and a real mosquitto, the stream captured
by ``mosquitto_sub -v`` as an auditor would, and ``dockgate journal verify`` on the capture (public key
alone) and on the box (through the config); tampered captures fail at the right seq; twenty kill -9s
in a busy run leave a journal that verifies and matches what was delivered."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.journal.checkpoint import sign
from tests.conftest import REPO, Broker, Subscriber, wait_until
from tests.e2e.test_e2e import QUICK, spawn, start_simulator, stop

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def _config(tmp_path: Path, broker: Broker, reader: int) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"""\
gateway: {{id: gw-journal}}
mqtt: {{host: 127.0.0.1, port: {broker.port}, topic_prefix: dockgate}}
readers:
  - {{name: portal-3, type: llrp, host: 127.0.0.1, port: {reader}, antennas: [1, 2, 3, 4]}}
locations:
  - name: dock-3
    read_points: [{{reader: portal-3, antennas: [1, 2, 3, 4]}}]
pipeline: {{arrive_min_reads: 2, arrive_window: 1s, depart_after: 1s}}
outbox: {{path: {tmp_path / "outbox.db"}}}
journal: {{checkpoint_entries: 4, checkpoint_every: 500ms}}
"""
    )
    return path


def _verify(*args: str) -> tuple[int, str]:
    process = spawn("journal", "verify", *args)
    out, err = process.communicate(timeout=60)
    return process.returncode, out + err


def _lines(path: Path) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for line in path.read_text().splitlines():
        topic, _, payload = line.partition(" ")
        if payload.startswith("{"):
            out.append((topic, json.loads(payload)))
    return out


def _write(path: Path, lines: list[tuple[str, dict[str, Any]]]) -> Path:
    path.write_text("".join(f"{topic} {json.dumps(doc)}\n" for topic, doc in lines))
    return path


def test_a_capture_verifies_with_the_public_key_and_tampering_is_found(tmp_path: Path, mosquitto: Broker) -> None:
    capture = tmp_path / "capture.txt"
    with capture.open("w") as sink:
        sub = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mosquitto.port), "-q", "1", "-v", "-t", "dockgate/#"],
            stdout=sink,
        )
    sim, reader = start_simulator(QUICK)
    config = _config(tmp_path, mosquitto, reader)
    gateway = spawn("run", "--config", str(config))

    def covered() -> bool:
        lines = _lines(capture)
        events = [d for t, d in lines if "/events/" in t]
        signed = [d["seq"] for t, d in lines if t.endswith("/journal/checkpoint")]
        return len(events) >= 14 and bool(signed) and max(signed) >= max(e["seq"] for e in events)

    try:
        wait_until(covered, 30, "14 events and a checkpoint covering them in the capture")
    finally:
        code, log = stop(gateway)
        stop(sim)
        sub.terminate()
        sub.wait(5)
    assert code == 0, log
    public = tmp_path / "outbox.db.journal.key.pub"
    code, out = _verify("--events", str(capture), "--public-key", str(public))
    assert code == 0 and "OK: 14 entries (seq 1-14)" in out, out
    code, out = _verify("--config", str(config))
    assert code == 0 and "OK: 14 entries (seq 1-14)" in out, out
    code, out = _verify("--config", str(config), "--events", str(capture))
    assert code == 0 and "OK:" in out, out

    lines = _lines(capture)
    schema = json.loads((REPO / "docs" / "event.schema.json").read_text())
    checker = jsonschema.Draft202012Validator({"$ref": "#/$defs/journalCheckpoint", "$defs": schema["$defs"]})
    checkpoints = [d for t, d in lines if t == "dockgate/gw-journal/journal/checkpoint"]
    assert checkpoints and all(checker.is_valid(d) for d in checkpoints)
    edited = [(t, {**d, "location": "dock-9"} if d.get("seq") == 6 and "/events/" in t else d) for t, d in lines]
    code, out = _verify("--events", str(_write(tmp_path / "edited.txt", edited)), "--public-key", str(public))
    assert code == 1 and "FAILED at seq 6: the entry does not match its hash" in out, out

    missing = [(t, d) for t, d in lines if not ("/events/" in t and d.get("seq") == 9)]
    code, out = _verify("--events", str(_write(tmp_path / "missing.txt", missing)), "--public-key", str(public))
    assert code == 1 and "FAILED at seq 10: seq 9-9 missing" in out, out

    other = Ed25519PrivateKey.generate()
    resigned = [
        (t, sign(other, d["gateway"], d["seq"], d["hash"], d["time"]) if t.endswith("/journal/checkpoint") else d)
        for t, d in lines
    ]
    code, out = _verify("--events", str(_write(tmp_path / "resigned.txt", resigned)), "--public-key", str(public))
    assert code == 1 and "checkpoint signed by key" in out, out

    twice = [*lines, *[(t, d) for t, d in lines if "/events/" in t][:3]]  # a QoS 1 redelivery
    code, out = _verify("--events", str(_write(tmp_path / "twice.txt", twice)), "--public-key", str(public))
    assert code == 0 and "3 exact duplicates" in out, out


def test_twenty_kill_9s_leave_a_journal_that_verifies_and_matches_what_was_delivered(
    tmp_path: Path, mosquitto: Broker
) -> None:
    sub = Subscriber(mosquitto, "dockgate/gw-journal/events/#")
    sim, reader = start_simulator(QUICK, "--loop")
    config = _config(tmp_path, mosquitto, reader)
    rng = random.Random(20)
    try:
        for _ in range(20):
            gateway = spawn("run", "--config", str(config))
            time.sleep(rng.uniform(0.8, 2.0))
            gateway.kill()
            gateway.communicate()
        gateway = spawn("run", "--config", str(config))
        time.sleep(2.0)

        def drained() -> bool:
            with sqlite3.connect(tmp_path / "outbox.db") as db:
                return db.execute("SELECT count(*) FROM events").fetchone()[0] == 0

        wait_until(drained, 60, "the outbox drained")
        code, log = stop(gateway)
        assert code == 0, log
    finally:
        stop(sim)
        sub.close()
    code, out = _verify("--config", str(config))
    assert code == 0 and "OK:" in out, out
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        journal = {int(s): bytes(h).hex() for s, h in db.execute("SELECT seq, hash FROM journal")}
    delivered = {e["seq"]: e["hash"] for e in sub.events(everything=True)}  # a report is journaled too
    assert len(journal) >= 20 and delivered == journal  # every entry delivered, every delivered event journaled
    print(f"\n20 kill -9s: {len(journal)} entries, verify: {out.strip().splitlines()[0]}")
