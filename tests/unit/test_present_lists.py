"""PresentLists: built on change, at most every snapshot_every; everything again after a reconnect."""

from __future__ import annotations

import json

from gateway.config import PipelineSettings
from gateway.config.transparency import OwnerSettings, PresentSettings
from gateway.core.identity import IdentityCache
from gateway.core.owners import Owners
from gateway.core.presence import PresenceTracker
from gateway.domain.model import LocationEvent, TagRead
from gateway.ops.present import PresentLists
from simulators.llrp.epc import sscc96

ACME = sscc96("0614141", "1000000001")


def _setup(**settings: object) -> tuple[PresenceTracker, PresentLists, list[tuple[str, bytes]]]:
    presence = PresenceTracker(PipelineSettings(arrive_min_reads=1), "gw", IdentityCache())
    owners = Owners([OwnerSettings(name="acme", company_prefixes=["0614141"])])
    lists = PresentLists(PresentSettings.model_validate(settings), "gw", ["dock-1", "dock-2"], owners)
    return presence, lists, []


def _arrive(presence: PresenceTracker, epc: str, location: str, time: float) -> list[LocationEvent]:
    events: list[LocationEvent] = []
    presence.observe(TagRead("r", 1, epc, -50.0, time), location, 0, 0.0, events)
    return events


def test_every_location_is_listed_and_published_at_the_first_turn() -> None:
    presence, lists, sent = _setup()
    lists.turn(100.0, presence, {}, 1, lambda loc, payload: sent.append((loc, payload)))
    assert set(lists.lists) == {"dock-1", "dock-2"} and all(p.count == 0 for p in lists.lists.values())
    assert sorted(loc for loc, _ in sent) == ["dock-1", "dock-2"]


def test_a_change_is_listed_at_most_every_snapshot_every() -> None:
    presence, lists, sent = _setup(snapshot_every=2.0)
    publish = lambda loc, payload: sent.append((loc, payload))  # noqa: E731
    lists.turn(100.0, presence, {}, 1, publish)
    sent.clear()
    lists.saw(_arrive(presence, ACME, "dock-1", 100.5))
    lists.turn(100.5, presence, {"dock-1": 1}, 1, publish)
    assert not sent and lists.lists["dock-1"].count == 0  # too soon after the first list
    lists.turn(102.0, presence, {"dock-1": 1}, 1, publish)
    assert [loc for loc, _ in sent] == ["dock-1"]  # only the location that changed
    doc = json.loads(sent[0][1])
    assert doc["count"] == 1 and doc["tags"][0]["owner"] == "acme" and doc["owners"] == {"acme": 1}
    sent.clear()
    lists.turn(105.0, presence, {"dock-1": 1}, 1, publish)
    assert not sent  # nothing changed
    lists.turn(105.0, presence, {"dock-1": 7}, 1, publish)
    assert [loc for loc, _ in sent] == ["dock-1"]  # reads there: antennas and direction may have moved


def test_a_reconnect_gets_every_list_again_and_a_disconnected_broker_none() -> None:
    presence, lists, sent = _setup()
    publish = lambda loc, payload: sent.append((loc, payload))  # noqa: E731
    lists.turn(100.0, presence, {}, 1, None)  # not connected: listed, not published
    assert set(lists.lists) == {"dock-1", "dock-2"} and not sent
    lists.turn(100.1, presence, {}, 1, publish)
    assert sorted(loc for loc, _ in sent) == ["dock-1", "dock-2"]
    sent.clear()
    lists.turn(100.2, presence, {}, 1, publish)
    assert not sent
    lists.turn(100.3, presence, {}, 2, publish)
    assert sorted(loc for loc, _ in sent) == ["dock-1", "dock-2"]


def test_mqtt_off_lists_without_publishing() -> None:
    presence, lists, sent = _setup(mqtt=False)
    lists.turn(100.0, presence, {}, 1, lambda loc, payload: sent.append((loc, payload)))
    assert set(lists.lists) == {"dock-1", "dock-2"} and not sent


def test_nothing_changed_keeps_the_same_lists() -> None:
    presence, lists, _ = _setup(mqtt=False)
    lists.turn(100.0, presence, {}, 1, None)
    before = lists.lists
    lists.turn(110.0, presence, {}, 2, None)
    assert lists.lists is before  # readers of the snapshot can tell "unchanged" by identity
