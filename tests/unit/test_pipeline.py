"""The presence logic on fake time: reads carry their own times, ``now`` is passed in."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import Config, parse_config
from gateway.core.pipeline import Pipeline
from gateway.domain.model import LocationEvent, TagRead

CONFIG = """\
gateway: {id: gw-test}
readers:
  - {name: portal-3, type: llrp, host: 127.0.0.1, antennas: [1, 2, 3, 4]}
  - {name: portal-4, type: llrp, host: 127.0.0.2, antennas: [1, 2]}
locations:
  - name: dock-3
    read_points: [{reader: portal-3, antennas: [1, 2]}]
  - name: dock-4
    read_points: [{reader: portal-4}]
pipeline: {arrive_min_reads: 2, arrive_window: 1s, depart_after: 5s}
"""

EPC = "3034257BF7194E4000001A85"
T0 = 1_800_000_000.0


def config() -> Config:
    return parse_config(CONFIG)


def read(t: float, antenna: int = 1, epc: str = EPC, reader: str = "portal-3", rssi: float | None = -55) -> TagRead:
    return TagRead(reader=reader, antenna=antenna, epc=epc, rssi=rssi, time=T0 + t)


def run(pipeline: Pipeline, reads: list[TagRead], until: float) -> list[LocationEvent]:
    """Feed reads one at a time at their own time, then tick every 100 ms until ``until``."""
    events: list[LocationEvent] = []
    for r in reads:
        events += pipeline.process([r], r.time)
    t = (reads[-1].time - T0) if reads else 0.0
    while t <= until:
        events += pipeline.process([], T0 + t)
        t += 0.1
    return events


def test_one_read_is_not_an_arrival() -> None:
    assert run(Pipeline(config()), [read(0)], until=20) == []


def test_two_reads_within_window_arrive_then_depart_after_silence() -> None:
    pipeline = Pipeline(config())
    events = run(pipeline, [read(0, antenna=1, rssi=-60), read(0.5, antenna=2, rssi=-50), read(3, rssi=-58)], 20)
    assert [e.type for e in events] == ["arrived", "departed"]
    arrived, departed = events
    assert arrived.time == T0 + 0.5
    assert arrived.location == "dock-3" and arrived.reader == "portal-3" and arrived.epc == EPC
    assert arrived.antennas == [1, 2] and arrived.reads == 2 and arrived.rssi_max == -50
    assert arrived.first_seen == T0 and arrived.last_seen == T0 + 0.5
    assert departed.time == T0 + 3  # the last read: when the tag was last known to be there
    assert departed.reads == 3 and departed.first_seen == T0 and departed.last_seen == T0 + 3
    assert pipeline.presence.tracked_count == 0


def test_reads_further_apart_than_the_window_never_arrive() -> None:
    assert run(Pipeline(config()), [read(0), read(1.5), read(3.0), read(4.5)], until=20) == []


def test_departure_waits_exactly_depart_after() -> None:
    pipeline = Pipeline(config())
    assert [e.type for e in pipeline.process([read(0), read(0.2)], T0 + 0.2)] == ["arrived"]
    assert pipeline.process([], T0 + 5.19) == []
    assert [e.type for e in pipeline.process([], T0 + 5.2)] == ["departed"]


def test_gap_shorter_than_depart_after_keeps_one_visit() -> None:
    events = run(Pipeline(config()), [read(0), read(0.1), read(4.0), read(8.0)], until=30)
    assert [e.type for e in events] == ["arrived", "departed"]


def test_return_after_departure_is_a_new_visit() -> None:
    events = run(Pipeline(config()), [read(0), read(0.1), read(10), read(10.1)], until=30)
    assert [e.type for e in events] == ["arrived", "departed", "arrived", "departed"]


def test_unmapped_antenna_and_reader_are_counted_not_lost() -> None:
    pipeline = Pipeline(config())
    events = pipeline.process([read(0, antenna=3), read(0.1, antenna=3), read(0.2, reader="ghost")], T0 + 0.2)
    assert events == []
    assert pipeline.dropped["no_read_point"] == 3
    assert pipeline.reads_total == 3


def test_locations_are_tracked_separately() -> None:
    events = run(
        Pipeline(config()),
        [read(0), read(0.1), read(0.2, reader="portal-4"), read(0.3, reader="portal-4", antenna=2)],
        until=20,
    )
    assert sorted((e.type, e.location) for e in events) == [
        ("arrived", "dock-3"),
        ("arrived", "dock-4"),
        ("departed", "dock-3"),
        ("departed", "dock-4"),
    ]


def test_many_tags_depart_in_last_seen_order() -> None:
    epcs = [f"{i:024X}" for i in range(50)]
    reads = [read(i * 0.01, epc=e) for i, e in enumerate(epcs)] + [
        read(1 + i * 0.01, epc=e) for i, e in enumerate(epcs)
    ]
    events = run(Pipeline(config()), reads, until=20)
    departed = [e.epc for e in events if e.type == "departed"]
    assert departed == epcs
    assert sum(e.type == "arrived" for e in events) == 50


read_lists = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=0.8, allow_nan=False),  # gap to the previous read
        st.sampled_from(["A" * 24, "B" * 24, "C" * 24]),
        st.sampled_from([("portal-3", 1), ("portal-3", 2), ("portal-3", 4), ("portal-4", 1)]),
    ),
    max_size=120,
)


def _reads(spec: list[tuple[float, str, tuple[str, int]]]) -> list[TagRead]:
    t, out = 0.0, []
    for gap, epc, (reader, antenna) in spec:
        t += gap * 10 if gap > 0.7 else gap  # some gaps long enough to depart
        out.append(read(t, antenna=antenna, epc=epc, reader=reader))
    return out


@settings(max_examples=150, deadline=None)
@given(read_lists)
def test_property_events_alternate_starting_with_arrived(
    spec: list[tuple[float, str, tuple[str, int]]],
) -> None:
    reads = _reads(spec)
    events = run(Pipeline(config()), reads, until=(reads[-1].time - T0 + 10) if reads else 0)
    by_key: dict[tuple[str, str], list[str]] = {}
    for e in events:
        by_key.setdefault((e.epc, e.location), []).append(e.type)
    for kinds in by_key.values():
        assert kinds[0] == "arrived"
        assert all(a != b for a, b in itertools.pairwise(kinds))
        assert kinds[-1] == "departed"  # everything departs once the reads stop


@settings(max_examples=100, deadline=None)
@given(read_lists)
def test_property_replay_gives_the_same_events(spec: list[tuple[float, str, tuple[str, int]]]) -> None:
    reads = _reads(spec)
    until = (reads[-1].time - T0 + 10) if reads else 0

    def strip(events: list[LocationEvent]) -> list[tuple[object, ...]]:
        return [
            (e.type, e.time, e.epc, e.location, e.reads, tuple(e.antennas), e.first_seen, e.last_seen) for e in events
        ]

    assert strip(run(Pipeline(config()), reads, until)) == strip(run(Pipeline(config()), reads, until))
