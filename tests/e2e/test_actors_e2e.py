"""Who moved it, end to end (issue 16): `dockgate simulate scanner --pty` -> `dockgate run` -> mosquitto. A badge
scanned at the door signs its operator in; the pallets scanned after carry ``operator`` in the event and in
EPCIS; a kill -9 and a restart keep the sign-in; the badge again signs out; the journal verifies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Broker, Subscriber, wait_until
from tests.e2e.test_e2e import spawn, stop
from tests.e2e.test_scanner_e2e import send, start_scanner
from tests.unit.test_actors import ANA, _badge
from tests.unit.test_epcis import check_epcis

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PALLETS = ["]C100106141412345678908", "]C100106141412345678915", "]C100106141412345678922"]


def test_a_badge_signs_in_survives_a_kill_and_signs_out(tmp_path: Path, mosquitto: Broker) -> None:
    sim, path = start_scanner(tmp_path / "scanner")
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"""\
gateway: {{id: gw-act}}
mqtt: {{host: 127.0.0.1, port: {mosquitto.port}, topic_prefix: dockgate, epcis: true}}
readers:
  - {{name: scanner-1, type: serial, port: {path}, terminator: CRLF, reconnect_delay_max: 0.5}}
locations:
  - name: dock-3
    read_points: [{{reader: scanner-1}}]
outbox: {{path: {tmp_path / "outbox.db"}}}
actors:
  people: [{{name: ana, id: "{ANA}"}}]
"""
    )
    sub = Subscriber(mosquitto, "dockgate/#")
    status = "dockgate/gw-act/readers/scanner-1/status"

    def connected() -> bool:
        return [json.loads(p)["state"] for p in sub.on_topic(status)][-1:] == ["connected"]

    def scanned() -> list[dict[str, object]]:
        return [e for e in sub.events() if e["type"] == "scanned"]

    second = None
    try:
        first = spawn("run", "--config", str(config))
        wait_until(connected, 20, "scanner connected")
        send(sim, _badge(ANA), PALLETS[0])
        wait_until(lambda: len(scanned()) == 1, 20, "the first pallet scanned")
        first.kill()  # kill -9: the sign-in must come back from the outbox
        first.communicate(timeout=20)
        second = spawn("run", "--config", str(config))
        wait_until(lambda: sub.on_topic(status)[-1:] != [] and connected(), 20, "scanner connected again")
        send(sim, "!sleep 1", PALLETS[1], _badge(ANA), PALLETS[2])
        wait_until(lambda: len(scanned()) == 3, 20, "three pallets scanned")
        wait_until(lambda: len(sub.events(everything=True)) >= 5, 10, "the sign-out")
    finally:
        code, log = stop(second) if second is not None else (1, "the second run did not start")
        stop(sim)
        sub.close()
    assert code == 0, log
    everything = sub.events(everything=True)
    kinds = [(e["type"], e.get("command"), (e.get("operator") or {}).get("name")) for e in everything]
    assert kinds == [
        ("command", "actor_sign_in", "ana"),
        ("scanned", None, "ana"),
        ("scanned", None, "ana"),  # after the restart: still signed in
        ("command", "actor_sign_out", "ana"),
        ("scanned", None, None),
    ]
    assert everything[0]["source"] == "scanner" and everything[0]["operator"] == {"name": "ana", "id": ANA}
    assert "actors_restored" in log and "signed_in=ana@dock-3" in log
    documents = [json.loads(p) for p in sub.on_topic("dockgate/gw-act/epcis/dock-3")]
    assert [d["epcisBody"]["eventList"][0].get("dockgate:operator") for d in documents] == [ANA, ANA, None]
    for doc in documents:
        check_epcis(doc)
    process = spawn("journal", "verify", "--config", str(config))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and "OK:" in out, out + err
