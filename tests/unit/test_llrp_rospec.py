"""The driver says ``inventorying`` only once the reader confirms that the ROSpec runs (GET_ROSPECS shows it
Active, or tag reports flow), tolerates a refused START_ROSPEC, and gives up on a ROSpec that will not start.
The reader's answers are built with the simulator's own codec, not the driver's."""

from __future__ import annotations

from typing import Any

from drivers.llrp.rospec import GET_ROSPECS, RospecRun, llrp_status, rospec_states
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
