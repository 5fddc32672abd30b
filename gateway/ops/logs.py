"""Log lines that help at 3 a.m.: ``key=value`` by default, one JSON object a line as an option.

Every record goes through a redaction filter: secrets the gateway has read (the MQTT password) are
replaced by ``***`` wherever they would appear, as a last line of defence behind never logging them.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from gateway.domain.log import Fields, quote, render

_SECRETS: set[str] = set()


def register_secret(value: str | None) -> None:
    """Never let this string reach a log line."""
    if value and len(value) >= 3:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            fields = getattr(record, "fields", None)
            if isinstance(fields, dict):
                record.fields = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
            record.msg = redact(record.getMessage())
            record.args = ()
        return True


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _fields(record: logging.LogRecord) -> Fields:
    """The line's fields: those it was written with (``gateway.domain.log``), or its text as ``msg``
    (a library's log line)."""
    fields = getattr(record, "fields", None)
    if isinstance(fields, dict):
        return fields
    return {"msg": record.getMessage()}


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=info logger=gateway.app event=reader_state reader=portal-3 state=connected``."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"ts={_timestamp(record)} level={record.levelname.lower()} logger={record.name} "
        line += render(_fields(record))
        if record.exc_info:
            line += f" exc={quote(redact(self.formatException(record.exc_info)))}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, then the line's own fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {"ts": _timestamp(record), "level": record.levelname.lower(), "logger": record.name}
        for key, value in _fields(record).items():
            out.setdefault(key, value if isinstance(value, str | int | float | bool | None) else str(value))
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


def setup_logging(level: str, fmt: str = "keyvalue") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    handler.addFilter(_Redact())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # sllurp logs every connection detail at INFO; keep it to what matters
    logging.getLogger("sllurp").setLevel(max(logging.WARNING, root.level))
