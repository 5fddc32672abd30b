"""The accuracy scenarios through either reader type (issue 19): every library scenario's reads, encoded by
each reader type's simulator and decoded by its driver (gateway/bench/reader_wire.py), give the same events
through an impinj-iot reader as through an LLRP one, so the same scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.bench.accuracy import score_events
from gateway.bench.pipeline_run import replay
from gateway.domain.model import LocationEvent
from simulators.llrp.scenario import load_scenario
from simulators.scenarios import library


def _key(e: LocationEvent) -> tuple[object, ...]:
    return (e.type, e.epc, e.location, e.reader, round(e.time, 3), e.reads, e.rssi_max, tuple(e.antennas))


@pytest.mark.parametrize("path", library(), ids=lambda p: p.stem)
def test_a_scenario_gives_the_same_events_through_either_reader_type(path: Path) -> None:
    scenario = load_scenario(path)
    llrp, impinj = replay(scenario, reader_type="llrp"), replay(scenario, reader_type="impinj-iot")
    assert llrp.reads == impinj.reads > 0
    assert [_key(e) for e in impinj.events] == [_key(e) for e in llrp.events]
    assert score_events(scenario, impinj.events, impinj.reads) == score_events(scenario, llrp.events, llrp.reads)


def test_an_unknown_reader_type_is_refused() -> None:
    scenario = load_scenario(library()[0])
    with pytest.raises(ValueError, match="expected one of direct, llrp, impinj-iot"):
        replay(scenario, reader_type="zebra")
