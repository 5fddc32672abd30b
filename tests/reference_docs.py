"""The generated docs (issue 20: every config key and CLI flag that exists is documented):

- docs/config-reference.md, from the configuration schema (gateway.config.Config): every setting with its
  type, default and the description the schema gives it;
- docs/cli-reference.md: the ``--help`` of every ``dockgate`` command, as ``text output`` blocks (so the doc
  block tests run each and compare).

``scripts/reference-docs`` writes both (``--check``: exit 1 when one is out of date);
tests/unit/test_docs_reference.py fails while they are not what this module makes of the code.
"""

from __future__ import annotations

import enum
import json
import sys
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

REPO = Path(__file__).resolve().parent.parent
CONFIG_REFERENCE = REPO / "docs" / "config-reference.md"
CLI_REFERENCE = REPO / "docs" / "cli-reference.md"

# what a BeforeValidator accepts, by its function's name (gateway.domain.settings)
_VALUE_KINDS = {"parse_duration": "duration", "parse_size": "size", "_port": "TCP port"}


@dataclass(frozen=True)
class Setting:
    key: str  # readers[].gpi.port
    kind: str  # the value's type, in words
    default: str
    description: str
    section: bool  # a nested section (its settings follow)


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _kind(annotation: Any, info: FieldInfo | None = None) -> str:
    for meta in info.metadata if info else []:
        func = getattr(getattr(meta, "func", None), "__name__", "")
        if func in _VALUE_KINDS:
            return _VALUE_KINDS[func]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _kind(args[0])
    if origin is typing.Literal:
        return " or ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        kinds = [_kind(a) for a in args if a is not type(None)]
        return " or ".join(kinds) + (" or null" if type(None) in args else "")
    if origin is list:
        return f"list of {_kind(args[0])}".replace("list of section", "list of sections")
    if origin is dict:
        return f"map of {_kind(args[0])} to {_kind(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " or ".join(json.dumps(m.value) for m in annotation)
    names = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default(info: FieldInfo, kind: str) -> str:
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
        return "(its defaults)" if isinstance(value, BaseModel) else f"`{json.dumps(value)}`"
    value = info.default
    if value is None:
        return "none"
    if kind == "duration" and isinstance(value, int | float):
        return f"`{value:g}s`"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, Path):
        return f"`{value}`"
    return f"`{json.dumps(value)}`"


def _description(info: FieldInfo, models: list[type[BaseModel]]) -> str:
    text = info.description or ""
    if not text and len(models) == 1 and models[0].__doc__:
        text = models[0].__doc__.strip().split("\n\n", 1)[0]
    return " ".join(text.split())


def settings(model: type[BaseModel], prefix: str = "") -> Iterator[Setting]:
    """Every setting of ``model``, depth first; the sections of a list are ``key[]``."""
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or name}"
        models = _models(info.annotation)
        kind = _kind(info.annotation, info)
        many = typing.get_origin(info.annotation) is list or "list of" in kind
        described = _description(info, models) or (
            f"The `{key}{'[]' if many else ''}.*` settings below." if models else ""
        )
        yield Setting(key, kind, _default(info, kind), described, bool(models))
        if len(models) == 1:
            yield from settings(models[0], f"{key}{'[]' if many else ''}.")


def reader_types() -> dict[str, type[BaseModel]]:
    """The settings of each reader type, by its ``type``."""
    from gateway.config.schema import AnyReaderSettings

    found: dict[str, type[BaseModel]] = {}
    for model in _models(AnyReaderSettings):
        (name,) = typing.get_args(model.model_fields["type"].annotation)
        found[name] = model
    return found


def _table(rows: list[Setting]) -> list[str]:
    out = ["| setting | type | default | what it is |", "|---|---|---|---|"]
    for s in rows:
        cells = [f"`{s.key}`", s.kind, s.default, s.description]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return out


def render_config() -> str:
    from gateway.config import Config

    lines = [
        "# Configuration reference",
        "",
        "Generated from the configuration schema (`gateway.config.Config`) by `scripts/reference-docs`; do not",
        "edit by hand: `tests/unit/test_docs_reference.py` fails while this file and the schema differ. What each",
        "part is for, with examples, is in README.md and the other docs; this is every setting there is.",
        "",
        "Durations are written `500ms`, `5s`, `2m`, `1h` (or a number of seconds); sizes `512MB`, `4KiB` (or bytes).",
        "`readers[].x` is `x` of each reader of the list.",
        "",
    ]
    for name, info in Config.model_fields.items():
        models = _models(info.annotation)
        lines += [f"## `{name}`", ""]
        lines += [_description(info, models), ""] if _description(info, models) else []
        if name == "readers":
            for kind, model in reader_types().items():
                lines += [f"### `readers[]` with `type: {kind}`", ""]
                doc = " ".join((model.__doc__ or "").strip().split("\n\n", 1)[0].split())
                lines += [doc, ""] if doc else []
                lines += [*_table(list(settings(model, "readers[]."))), ""]
            continue
        own = next(s for s in settings(Config) if s.key == name)
        many = "[]" if typing.get_origin(info.annotation) is list else ""
        rows = list(settings(models[0], f"{name}{many}.")) if len(models) == 1 else [own]
        lines += [*_table(rows), ""]
    return "\n".join(line for line in lines).rstrip() + "\n"


def all_settings() -> list[Setting]:
    """Every setting, the reader types' included (their keys are ``readers[].x``)."""
    from gateway.config import Config

    found = [s for s in settings(Config) if not s.key.startswith("readers.")]
    for model in reader_types().values():
        found += settings(model, "readers[].")
    return found


def render_cli() -> str:
    from tests.doccli import cli_help, cli_parsers

    lines = [
        "# Command reference",
        "",
        "Generated from the commands' own `--help` by `scripts/reference-docs`; do not edit by hand:",
        "`tests/unit/test_docs_reference.py` fails while this file and the commands differ, and each block below",
        "is run and compared by the doc block tests. How to use them: README.md and the other docs.",
        "",
    ]
    for path in sorted(cli_parsers()):
        command = " ".join(("dockgate", *path))
        lines += [f"## `{command}`", "", "```text output", f"$ {command} --help", *cli_help(path).splitlines()]
        lines += ["```", ""]
    return "\n".join(line.rstrip() for line in lines).rstrip() + "\n"


def generated() -> dict[Path, str]:
    return {CONFIG_REFERENCE: render_config(), CLI_REFERENCE: render_cli()}


if __name__ == "__main__":
    stale = [path for path, text in generated().items() if not path.is_file() or path.read_text("utf-8") != text]
    if sys.argv[1:] == ["--check"]:
        print("\n".join(f"out of date: {p.relative_to(REPO)}" for p in stale))
        sys.exit(1 if stale else 0)
    for path, text in generated().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")
