"""Structured log lines, structured where they are written.

    log = get_logger(__name__)
    log.info("reconnect", reader="portal-3", attempt=4, delay_s=8.2)

Each call names an event and its fields as keyword arguments. The fields travel on the log record
(``record.fields``), so the formatters in ``gateway.ops.logs`` write them as ``key=value`` or as JSON keys
without parsing anything back; a value with spaces, ``=`` or newlines stays one value. The record's
message is the same line in ``key=value`` form, so any plain handler (pytest's caplog, a library's
default) shows something readable too.

Standard ``logging`` underneath: levels, handlers and the secret redaction filter work as usual, and a
disabled level costs one ``isEnabledFor`` call.
"""

from __future__ import annotations

import json
import logging
from typing import Any

Fields = dict[str, Any]


def quote(value: object) -> str:
    """A value as it appears after ``key=``: bare when it is one plain word, JSON-quoted otherwise."""
    if isinstance(value, float):
        return f"{value:.6g}"
    text = value if isinstance(value, str) else str(value)
    if text and not any(c in text for c in ' "=\n\t\r'):
        return text
    return json.dumps(text, ensure_ascii=False)


def render(fields: Fields) -> str:
    """``event=connected reader=portal-3 detail="no antenna"``."""
    return " ".join(f"{key}={quote(value)}" for key, value in fields.items())


class _Line:
    """The record's message, rendered only when a handler asks for it."""

    __slots__ = ("fields",)

    def __init__(self, fields: Fields) -> None:
        self.fields = fields

    def __str__(self) -> str:
        return render(self.fields)


class EventLogger:
    """A ``logging.Logger`` that takes an event name and fields instead of a format string."""

    __slots__ = ("logger",)

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)

    def _log(self, level: int, event: str, fields: Fields, exc_info: bool = False) -> None:
        if self.logger.isEnabledFor(level):
            record_fields = {"event": event, **fields}
            self.logger.log(
                level, _Line(record_fields), exc_info=exc_info, extra={"fields": record_fields}, stacklevel=3
            )

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, fields)

    def critical(self, event: str, **fields: Any) -> None:
        self._log(logging.CRITICAL, event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        """At ERROR, with the exception being handled."""
        self._log(logging.ERROR, event, fields, exc_info=True)

    def enabled(self, level: int) -> bool:
        return self.logger.isEnabledFor(level)


def get_logger(name: str) -> EventLogger:
    return EventLogger(name)
