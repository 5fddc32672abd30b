"""The two log formats write a line's fields as fields: ``key=value`` (quoted only when needed) or JSON keys
with their types kept; a library's plain line becomes ``msg``; secrets are blanked in both (issue 20,
defect 3: ``event``, ``seq`` and ``reason`` must be keys of their own in JSON logs)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from gateway.domain.log import get_logger
from gateway.ops import logs
from gateway.ops.logs import JsonFormatter, KeyValueFormatter

pytestmark = pytest.mark.timeout(30)


class Capture(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.addFilter(logs._Redact())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured(request: pytest.FixtureRequest) -> Iterator[Capture]:
    formatter: logging.Formatter = JsonFormatter() if request.param == "json" else KeyValueFormatter()
    handler = Capture(formatter)
    logger = logging.getLogger("test.logformats")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield handler
    logger.removeHandler(handler)
    logs._SECRETS.discard("pw-log-secret-77")


@pytest.mark.parametrize("captured", ["json"], indirect=True)
def test_json_lines_have_the_fields_as_keys_with_their_types(captured: Capture) -> None:
    get_logger("test.logformats").error("publish_refused", seq=1, part="event", reason="Not authorized")
    record = json.loads(captured.lines[0])
    assert record.pop("ts")
    assert record == {
        "level": "error",
        "logger": "test.logformats",
        "event": "publish_refused",
        "seq": 1,
        "part": "event",
        "reason": "Not authorized",
    }


@pytest.mark.parametrize("captured", ["keyvalue"], indirect=True)
def test_key_value_lines_stay_as_they_are(captured: Capture) -> None:
    get_logger("test.logformats").error("publish_refused", seq=1, part="event", reason="Not authorized")
    assert captured.lines[0].split(" ", 1)[1] == (
        'level=error logger=test.logformats event=publish_refused seq=1 part=event reason="Not authorized"'
    )


@pytest.mark.parametrize("captured", ["keyvalue", "json"], indirect=True)
def test_a_plain_line_is_msg_and_a_secret_is_blanked_in_fields_and_text(captured: Capture) -> None:
    logs.register_secret("pw-log-secret-77")
    logging.getLogger("test.logformats").warning("a library says %s", "pw-log-secret-77")
    get_logger("test.logformats").warning("oops", detail="the password pw-log-secret-77 leaked")
    assert not any("pw-log-secret-77" in line for line in captured.lines), captured.lines
    if isinstance(captured.formatter, JsonFormatter):
        plain, fielded = (json.loads(line) for line in captured.lines)
        assert plain["msg"] == "a library says ***" and "event" not in plain
        assert fielded["event"] == "oops" and fielded["detail"] == "the password *** leaked" and "msg" not in fielded
    else:
        assert captured.lines[0].endswith('msg="a library says ***"')
        assert captured.lines[1].endswith('event=oops detail="the password *** leaked"')
