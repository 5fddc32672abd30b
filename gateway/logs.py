"""Log lines that help at 3 a.m.: ``key=value`` by default, one JSON object a line as an option.

Every record goes through a redaction filter: secrets the gateway has read (the MQTT password) are
replaced by ``***`` wherever they would appear, as a last line of defence behind never logging them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

_SECRETS: set[str] = set()
_KEY = re.compile(r"(?:^|\s)(\w[\w.\[\]-]*)=")


def pairs(message: str) -> list[tuple[str, str]] | None:
    """``reader=portal-3 event=x error=connection refused`` -> [(reader, portal-3), (event, x), (error, ...)].

    Our log messages are key=value pairs whose last value may be free text; None when the message
    does not start with a key.
    """
    matches = list(_KEY.finditer(message))
    if not matches or message[: matches[0].start()].strip():
        return None
    out = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(message)
        out.append((match.group(1), message[match.end() : end].strip()))
    return out


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
            record.msg = redact(record.getMessage())
            record.args = ()
        return True


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _quote(value: str) -> str:
    if value and not any(c in value for c in ' "=\n\t'):
        return value
    return json.dumps(value)


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=info logger=gateway.app reader=portal-3 state=connected``."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        found = pairs(message)
        body = " ".join(f"{k}={_quote(v)}" for k, v in found) if found else f"msg={_quote(message)}"
        line = f"ts={_timestamp(record)} level={record.levelname.lower()} logger={record.name} {body}"
        if record.exc_info:
            line += f" exc={_quote(redact(self.formatException(record.exc_info)))}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line; ``key=value`` pairs of the message become fields."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        out: dict[str, object] = {"ts": _timestamp(record), "level": record.levelname.lower(), "logger": record.name}
        found = pairs(message)
        if found:
            out.update(found)
        else:
            out["msg"] = message
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
