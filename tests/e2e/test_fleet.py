"""A fleet: two gateways on one broker, and a back office that load-balances their events over an MQTT 5
shared subscription. Real parts only: mosquitto, two LLRP simulators, two ``dockgate run`` processes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.conftest import Broker, Subscriber
from tests.e2e.test_e2e import QUICK, start_simulator, stop
from tests.e2e.test_mqtt_security import EVENTS, GatewayProcess, write_gateway_config

GROUP_FILTER = "$share/backoffice/dockgate/+/events/#"
GATEWAYS = ("gw-a", "gw-b")


def test_a_shared_subscription_hands_each_event_of_each_gateway_to_exactly_one_consumer(
    tmp_path: Path, mosquitto: Broker
) -> None:
    group = [Subscriber(mosquitto, GROUP_FILTER) for _ in range(2)]
    audit = Subscriber(mosquitto, "dockgate/+/events/#")  # an ordinary subscription sees everything
    simulators = [start_simulator(QUICK) for _ in GATEWAYS]
    gateways = [
        GatewayProcess(write_gateway_config(tmp_path / gw, mosquitto.port, port, gateway_id=gw))
        for gw, (_, port) in zip(GATEWAYS, simulators, strict=True)
    ]

    def received(sub: Subscriber) -> list[tuple[str, int]]:
        # with reports: a report at the top of the hour takes a seq like any event and goes to the group too
        return [(e["gateway"], e["seq"]) for e in sub.events(everything=True)]

    def complete() -> bool:
        per_gateway = Counter(e["gateway"] for e in audit.events())
        return all(per_gateway[gw] >= EVENTS for gw in GATEWAYS) and sum(len(received(s)) for s in group) >= len(
            received(audit)
        )

    try:
        gateways[0].wait_until(complete, 40, f"{EVENTS} events of each of two gateways")
    finally:
        logs = [gateway.stop()[1] for gateway in gateways]
        for sim, _ in simulators:
            stop(sim)
        for sub in [*group, audit]:
            sub.close()
    for gateway in gateways:
        assert gateway.process.returncode == 0, gateway.log

    assert Counter(e["gateway"] for e in audit.events()) == dict.fromkeys(GATEWAYS, EVENTS)
    everything = set(received(audit))
    for gw in GATEWAYS:  # every seq of each gateway, none missing
        seqs = sorted(seq for g, seq in everything if g == gw)
        assert seqs == list(range(1, len(seqs) + 1)), (gw, seqs)
    first, second = (received(s) for s in group)
    assert set(first) | set(second) == everything  # together: every event of both gateways
    assert not set(first) & set(second)  # no event went to both members
    assert Counter(first + second).most_common(1)[0][1] == 1  # nor twice to one member
    assert first and second  # the broker spread the load over both members
    assert Counter(received(audit)) == Counter(everything)
    # each event's topic carries the id of the gateway that sent it
    for sub in group:
        for message, event in zip(sub.messages, sub.events(everything=True), strict=True):
            assert message.topic == f"dockgate/{event['gateway']}/events/dock-3"
    for gw, log in zip(GATEWAYS, logs, strict=True):
        assert f"event=stopped pending=0 gateway={gw}" in log
