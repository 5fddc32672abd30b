"""Pydantic's validation errors -> one line per problem, each naming its field path and what is wrong
(``readers[0].port: expected a TCP port 1-65535, got 'abc'``)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from drivers.registry import READER_TYPES
from gateway.config.references import CrossReferenceError, Problem, cross_reference_problems
from gateway.config.schema import Config


def describe(exc: ValidationError, data: dict[str, Any]) -> list[str]:
    """One line per problem: the type errors, then the cross-references. Pydantic runs the cross-reference
    validator only once every field is valid, so when it did not run, they are checked here on ``data`` as
    far as it can be read (a problem under a path that already has a type error is left to that one)."""
    problems: list[Problem] = []
    crossed: list[Problem] | None = None
    for error in exc.errors(include_url=False):
        ctx_error = (error.get("ctx") or {}).get("error")
        if isinstance(ctx_error, CrossReferenceError):
            crossed = ctx_error.problems
            continue
        path = _path(error["loc"])
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path += ".type"
        problems.append((path, _message(error)))
    if crossed is None:
        typed = [path for path, _ in problems]
        crossed = [p for p in cross_reference_problems(data) if not any(_within(p[0], t) for t in typed)]
    return [f"{path}: {msg}" if path else msg for path, msg in problems + crossed]


def _within(path: str, other: str) -> bool:
    return path == other or path.startswith((other + ".", other + "["))


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if i >= 2 and loc[i - 2] == "readers" and part in READER_TYPES:
            continue  # the tag pydantic adds for the member of the readers union: not part of the path
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}" if out else part
        # pydantic adds tags such as "function-before[...]" for annotated types: not part of the path
    return out


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys a section accepts, found by following the error's path through the schema."""
    model: Any = Config
    for i, part in enumerate(loc):
        if isinstance(part, int):
            continue
        if i >= 2 and loc[i - 2] == "readers" and part in READER_TYPES:
            model = READER_TYPES[part].settings
            continue
        fields = getattr(model, "model_fields", None)
        field = fields.get(part) if isinstance(fields, dict) else None
        if field is None:
            return []
        annotation = field.annotation
        while getattr(annotation, "__args__", None) and not (
            isinstance(annotation, type) and issubclass(annotation, BaseModel)
        ):
            annotation = next(
                (a for a in annotation.__args__ if isinstance(a, type) and issubclass(a, BaseModel)),
                annotation.__args__[0],
            )
        model = annotation
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _message(error: Any) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(error["loc"][:-1])
        return f"unknown key (allowed: {', '.join(allowed)})" if allowed else "unknown key"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected an integer, got {value!r}"
    if kind in ("string_type",):
        return f"expected a string, got {value!r}"
    if kind in ("list_type",):
        return f"expected a list, got {value!r}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping, got {value!r}"
    if kind == "union_tag_invalid":
        return f"expected one of {ctx.get('expected_tags')}, got {ctx.get('tag')!r}"
    if kind == "union_tag_not_found":
        return f"required field is missing (one of {', '.join(repr(t) for t in READER_TYPES)})"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}, got {value!r}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<"}
        limit = next(iter(ctx.values())) if ctx else "?"
        return f"expected a value {bound[kind]} {limit}, got {value!r}"
    if kind == "string_pattern_mismatch":
        return f"{value!r} is not allowed here: use letters, digits, '-', '_' or '.', no '/', '+' or '#'"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"])
