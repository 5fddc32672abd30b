"""The driver says ``inventorying`` only once the reader confirms that the ROSpec runs (GET_ROSPECS shows it
Active, or tag reports flow), tolerates a refused START_ROSPEC, and gives up on a ROSpec that will not start.
The reader's answers are built with the simulator's own codec, not the driver's."""

from __future__ import annotations

from typing import Any

from drivers.llrp.rospec import GET_ROSPECS, RospecRun, llrp_status, rospec_states
from drivers.llrp.watchdog import NoReadWatchdog
from simulators.llrp import frames as f

ROSPEC_HEAD = b"\x00\x00\x00\x01\x00"  # ROSpecID 1, priority 0; CurrentState follows


def rospecs_answer(state: int | None, msg_id: int = 7) -> bytes:
    specs = [] if state is None else [f.tlv(f.P_ROSPEC, ROSPEC_HEAD + bytes([state]))]
    return f.response(f.GET_ROSPECS_RESPONSE, msg_id, f.M_SUCCESS, "", *specs)


class FakeLink:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.details: list[str] = []

    def send(self, name: str, fields: dict[str, Any] | None = None) -> int:
        self.sent.append(name)
        return len(self.sent)

    def send_raw(self, msg_type: int, body: bytes = b"") -> int:
        self.sent.append("GET_ROSPECS" if msg_type == GET_ROSPECS else str(msg_type))
        return len(self.sent)

    def publish(self, detail: str, **extra: Any) -> None:
        self.details.append(detail)


def test_parsers_read_the_status_and_the_states() -> None:
    assert rospec_states(rospecs_answer(2)) == {1: 2}
    assert rospec_states(rospecs_answer(None)) == {}
    assert llrp_status(rospecs_answer(1)) == (0, "")
    refused = f.response(f.START_ROSPEC_RESPONSE, 3, f.M_FIELD_ERROR, "ROSpec 1 is already active")
    assert llrp_status(refused) == (f.M_FIELD_ERROR, "ROSpec 1 is already active")
    assert llrp_status(b"\x04\x20\x00\x00\x00\x0c\x00\x00\x00\x01\x01\x1f") == (0, "")  # truncated: no status


def test_inventorying_only_once_get_rospecs_shows_it_active() -> None:
    link = FakeLink()
    run = RospecRun("portal", link)
    run.start()
    assert link.sent == ["START_ROSPEC", "GET_ROSPECS"]
    assert link.details == ["starting inventory"]
    # an Enabled-but-not-started ROSpec: one more START_ROSPEC, still not inventorying
    run.on_frame(rospecs_answer(1))
    assert link.sent[2:] == ["START_ROSPEC", "GET_ROSPECS"]
    assert link.details == ["starting inventory"] and not run.confirmed
    run.on_frame(rospecs_answer(2))
    assert run.confirmed and link.details == ["starting inventory", "inventorying"]
    assert run.failure is None


def test_tag_reports_confirm_it_too_and_a_refused_start_is_tolerated() -> None:
    link = FakeLink()
    run = RospecRun("portal", link)
    run.start()
    run.on_frame(f.response(f.START_ROSPEC_RESPONSE, 1, f.M_FIELD_ERROR, "ROSpec 1 is already active"))
    assert not run.confirmed and run.failure is None
    run.on_frame(f.error_message(2, f.M_UNSUPPORTED_MESSAGE, "GET_ROSPECS unsupported"))  # a reader without it
    assert not run.confirmed and run.failure is None
    run.on_reads(0)
    assert not run.confirmed
    run.on_reads(3)
    assert run.confirmed and link.details[-1] == "inventorying"
    run.on_reads(3)
    assert link.details.count("inventorying") == 1


def test_a_rospec_that_will_not_start_fails_the_session() -> None:
    link = FakeLink()
    run = RospecRun("portal", link)
    run.start()
    run.on_frame(rospecs_answer(1))
    run.on_frame(rospecs_answer(1))
    assert run.failure == "ROSpec 1 is inactive after START_ROSPEC, twice"
    assert "inventorying" not in link.details


def test_gated_a_rospec_started_unasked_is_stopped() -> None:
    link = FakeLink()
    run = RospecRun("portal", link)
    run.check()  # gated: nothing wanted yet
    run.on_frame(rospecs_answer(2))
    assert link.sent == ["GET_ROSPECS", "STOP_ROSPEC"] and not link.details
    run.start("inventorying (GPI active)")
    assert link.details == ["starting inventory (GPI active)"]
    run.on_frame(rospecs_answer(2))
    assert link.details[-1] == "inventorying (GPI active)"
    run.stopped()
    assert not run.confirmed and not run.wanted


class StatusLink(FakeLink):
    """A link whose published details carry the watchdog's state, as the session's do."""

    def __init__(self) -> None:
        super().__init__()
        self.watchdog: NoReadWatchdog | None = None
        self.states: list[tuple[str, str]] = []

    def publish(self, detail: str, **extra: Any) -> None:
        super().publish(detail, **extra)
        assert self.watchdog is not None
        self.states.append(("idle" if self.watchdog.idle else "connected", detail))


def watched(after: float | None) -> tuple[StatusLink, RospecRun, NoReadWatchdog]:
    link = StatusLink()
    run = RospecRun("portal", link)
    dog = NoReadWatchdog("portal", after, run, link, now=0.0)
    link.watchdog = dog
    return link, run, dog


def test_watchdog_idle_after_no_reads_one_step_per_period_and_recovery() -> None:
    link, run, dog = watched(5.0)
    run.start()
    run.on_frame(rospecs_answer(2))
    sent = len(link.sent)
    for t in range(1, 50):  # 0.1 s ticks up to 4.9 s: quiet, not yet idle
        dog.tick(t / 10)
    assert not dog.idle and len(link.sent) == sent
    dog.tick(5.0)
    assert dog.idle and link.states[-1][0] == "idle" and "checking the ROSpec" in link.states[-1][1]
    assert link.sent[sent:] == ["GET_ROSPECS"]  # the corrective step: check first
    run.on_frame(rospecs_answer(2))  # Active: nothing to restart
    dog.tick(5.1)
    assert link.states[-1] == ("idle", link.states[-1][1]) and "ROSpec active" in link.states[-1][1]
    for t in range(52, 100):
        dog.tick(t / 10)
    assert link.sent[sent:] == ["GET_ROSPECS"]  # at most one step per no_reads_after
    dog.tick(10.0)
    assert link.sent[sent:] == ["GET_ROSPECS", "GET_ROSPECS"]
    dog.on_reads(0)  # an empty RO_ACCESS_REPORT is not a tag report
    assert dog.idle
    dog.on_reads(2)
    assert not dog.idle and link.states[-1] == ("connected", "inventorying")


def test_watchdog_restarts_a_stopped_rospec_then_gives_up_to_a_reconnect() -> None:
    link, run, dog = watched(2.0)
    run.start()
    run.on_frame(rospecs_answer(2))
    dog.tick(2.0)
    assert dog.idle
    run.on_frame(rospecs_answer(1))  # the reader stopped it on its own
    assert link.sent[-2:] == ["START_ROSPEC", "GET_ROSPECS"] and run.failure is None
    run.on_frame(rospecs_answer(1))
    assert run.failure is not None  # the session ends; the driver reconnects with its backoff


def test_watchdog_counts_only_open_gpi_windows_and_is_off_by_default() -> None:
    _, run, dog = watched(3.0)
    for t in range(1, 100):  # gated, no window open: a quiet dock door is not idle
        dog.tick(t / 10)
    assert not dog.idle
    run.start("inventorying (GPI active)")
    dog.tick(11.9)
    run.stopped()  # 2 s of an open window (9.9 to 11.9)
    dog.tick(50.0)
    assert not dog.idle
    run.start("inventorying (GPI active)")
    dog.tick(51.5)  # 3.5 s open in all
    assert dog.idle
    _, off_run, off = watched(None)
    off_run.start()
    off.tick(1000.0)
    assert not off.idle


def test_watchdog_on_a_reader_without_get_rospecs_starts_it_blind() -> None:
    link, run, dog = watched(2.0)
    run.start()
    assert run.check_id is not None
    assert not run.on_error(run.check_id + 100)  # some other message's ERROR_MESSAGE
    assert run.on_error(run.check_id)  # GET_ROSPECS unsupported at start: nothing more, reports will tell
    assert link.sent == ["START_ROSPEC", "GET_ROSPECS"] and run.failure is None
    dog.tick(2.0)
    assert dog.idle and link.sent[-1] == "GET_ROSPECS"
    assert run.on_error(run.check_id)
    assert link.sent[-1] == "START_ROSPEC"  # the corrective step, blind
    dog.tick(2.1)
    assert "ROSpec unknown" in link.states[-1][1] and run.failure is None
    dog.on_reads(1)
    assert link.states[-1] == ("connected", "inventorying")  # confirmed by the reports, too
