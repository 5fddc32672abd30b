"""The link's liveness on fake time: a reader that sends keepalives is dead after 2x keepalive of silence;
one that sends none is probed with GET_READER_CONFIG, and only a probe without answer is a dead link."""

from __future__ import annotations

from drivers.llrp.liveness import GET_READER_CONFIG, PROBE_BODY, Liveness


class FakeLink:
    def __init__(self) -> None:
        self.sent: list[tuple[int, bytes, int]] = []

    def send_raw(self, msg_type: int, body: bytes = b"") -> int:
        self.sent.append((msg_type, body, len(self.sent) + 1))
        return len(self.sent)


def test_with_keepalives_silence_for_twice_the_interval_is_dead_and_nothing_is_probed() -> None:
    link = FakeLink()
    live = Liveness("r", 1.0, 3.0, link, 0.0)
    live.on_keepalive()
    assert live.check(1.9, 0.0) is None
    dead = live.check(2.1, 0.0)
    assert dead is not None and "half-open" in dead and "2x keepalive" in dead
    assert link.sent == []


def test_without_keepalives_a_quiet_reader_is_probed_and_its_answers_keep_it_alive() -> None:
    link = FakeLink()
    live = Liveness("r", 1.0, 3.0, link, 0.0)
    assert live.check(2.0, 0.0) is None and not live.probing  # 2x keepalive: not yet
    assert live.check(2.1, 0.0) is None and live.probing  # keepalives missing: probe at once (quiet 2.1 s)
    assert link.sent == [(GET_READER_CONFIG, PROBE_BODY, 1)]
    assert not live.on_answer(99)
    assert live.on_answer(1)
    heard = 2.2
    for t in (2.5, 3.0, 3.1):  # quiet again, but less than one keepalive: no probe
        assert live.check(t, heard) is None
    assert len(link.sent) == 1
    assert live.check(3.2, heard) is None and len(link.sent) == 2  # one keepalive of silence: probe again
    assert live.on_answer(2)
    # an hour of a quiet reader that answers: one probe per keepalive, never dead
    t = heard = 3.3
    while t < 3600:
        t += 0.05
        assert live.check(t, heard) is None
        if live._probe_id is not None and t - live._probe_sent > 0.01:
            assert live.on_answer(live._probe_id)
            heard = t
    assert 3000 < live.probes < 3700, live.probes


def test_without_keepalives_a_probe_without_answer_is_a_dead_link_and_other_traffic_counts_as_an_answer() -> None:
    link = FakeLink()
    live = Liveness("r", 1.0, 3.0, link, 0.0)
    live.check(2.5, 0.0)  # probe 1 at 2.5
    assert live.check(4.0, 3.9) is None  # a report at 3.9: alive, probe forgotten
    assert live.check(4.5, 3.9) is None and len(link.sent) == 1
    assert live.check(4.9, 3.9) is None and len(link.sent) == 2  # probe 2 at 4.9
    assert live.check(7.9, 3.9) is None
    dead = live.check(7.95, 3.9)
    assert dead is not None and "GET_READER_CONFIG" in dead and "no keepalives" in dead


def test_keepalives_that_start_late_end_the_probing() -> None:
    link = FakeLink()
    live = Liveness("r", 1.0, 3.0, link, 0.0)
    live.check(2.5, 0.0)
    live.on_keepalive()
    assert not live.probing
    assert live.check(4.0, 2.6) is None and live.check(4.7, 2.6) is not None  # 2x keepalive rule again
