"""Reading the config file: YAML in, a valid ``Config`` or a ``ConfigError`` listing every problem out."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from gateway.config.messages import describe
from gateway.config.schema import Config
from gateway.domain.errors import ConfigError


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config file; raise ConfigError listing every problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read file: {exc}"], source) from exc
    return parse_config(text, source)


def parse_config(text: str, source: str = "config") -> Config:
    """Validate YAML text; raise ConfigError listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"not valid YAML: {where}{problem}"], source) from exc
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ConfigError([f"expected a mapping of sections (gateway, mqtt, readers, ...), got {got}"], source)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, data), source) from exc
