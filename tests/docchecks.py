"""The check of each kind of block (the kinds: tests/docblocks.py): each returns the problems it finds, none when
the block holds. ``problems(block)`` is the one to call; ``.venv/bin/python -m tests.docchecks`` counts the
blocks by kind and lists the illustrations."""

from __future__ import annotations

import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.docblocks import KINDS, NOT_YET_TAGGED, REPO, Block, all_blocks, blocks, kind_problems, trailing_comments
from tests.doccli import dockgate_args, run_cli, shell_problems
from tests.docnames import metric_problems, published_topics, topic_filter_problem, topic_matches, topics_overlap


def base_config() -> dict[str, Any]:
    """README.md's whole configuration, which a ``yaml dockgate-part`` block is laid over."""
    readme = next(b for b in blocks(REPO / "README.md") if b.kind == "yaml dockgate")
    loaded: dict[str, Any] = yaml.safe_load(readme.text)
    return loaded


def config_text(block: Block) -> str:
    """The configuration a ``yaml dockgate*`` block stands for: a part laid over README.md's whole one."""
    if block.kind != "yaml dockgate-part":
        return block.text
    part = yaml.safe_load(block.text)
    if not isinstance(part, dict):
        return block.text
    return yaml.safe_dump({**base_config(), **part}, sort_keys=False)


def config_problems(block: Block) -> list[str]:
    name = block.attrs.get("file", "dockgate.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / name).write_text(config_text(block), encoding="utf-8")
        code, out = run_cli(["check-config", name], cwd=Path(tmp))
    if block.kind != "yaml dockgate-invalid":
        return [] if code == 0 else [f"{block.where}: dockgate check-config refuses it (exit {code}):\n{out}"]
    if code != 2:
        return [f"{block.where}: dockgate check-config accepts it (exit {code}); the doc says it is refused"]
    shows = [
        b
        for b in blocks(block.doc)
        if b.kind == "text output" and re.match(rf"\$ \S*dockgate check-config {re.escape(name)}\n", b.text)
    ]
    return [] if shows else [f"{block.where}: no `text output` block of `dockgate check-config {name}` follows it"]


_VARYING = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?"), "<time>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<id>"),
    (re.compile(r"\b(127\.0\.0\.1|localhost):\d+"), r"\1:<port>"),
]


def normalized(line: str) -> str:
    for pattern, replacement in _VARYING:
        line = pattern.sub(replacement, line)
    return line.rstrip()


def shows_output(expected: list[str], real: list[str]) -> bool:
    """``expected`` is a contiguous run of ``real`` (both normalized); a line ``...`` stands for any lines."""
    segments: list[list[str]] = [[]]
    for line in expected:
        if line.strip() == "...":
            segments.append([])
        else:
            segments[-1].append(normalized(line))
    lines = [normalized(line) for line in real]
    at = 0
    for segment in (s for s in segments if s):
        starts = [i for i in range(at, len(lines) - len(segment) + 1) if lines[i : i + len(segment)] == segment]
        if not starts:
            return False
        at = starts[0] + len(segment)
    return True


_RUNS: dict[tuple[str, ...], tuple[int, str]] = {}


def output_problems(block: Block) -> list[str]:
    first, _, rest = block.text.partition("\n")
    if not first.startswith("$ "):
        return [f"{block.where}: a `text output` block starts with `$ COMMAND`, the command that prints it"]
    args = dockgate_args(shlex.split(first[2:]))
    if args is None:
        return [f"{block.where}: `{first[2:]}`: only dockgate commands are run for their output"]
    files = {b.attrs["file"]: config_text(b) for b in blocks(block.doc) if "file" in b.attrs}
    key = (*args, *sorted(f"{k}\0{v}" for k, v in files.items()))
    if key not in _RUNS:
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in files.items():
                (Path(tmp) / name).write_text(text, encoding="utf-8")
            _RUNS[key] = run_cli(args, cwd=Path(tmp))
    _, out = _RUNS[key]
    if shows_output(rest.splitlines(), out.splitlines()):
        return []
    return [f"{block.where}: `{first[2:]}` prints something else:\n{out}"]


def event_problems(block: Block) -> list[str]:
    from tests.conftest import check_event

    try:
        check_event(json.loads(block.text), block.where)
    except (ValueError, AssertionError) as exc:
        return [f"{block.where}: {exc}"]
    return []


def epcis_problems(block: Block) -> list[str]:
    from tests.unit.test_epcis import check_epcis

    try:
        check_epcis(json.loads(block.text))
    except (ValueError, AssertionError, KeyError, TypeError) as exc:
        return [f"{block.where}: not a valid EPCIS 2.0 document: {exc}"]
    return []


def shipment_command_problems(block: Block) -> list[str]:
    from gateway.shipments.commands import CommandError, parse_command

    problems = []
    for line in block.text.splitlines():
        if line.strip():
            try:
                parse_command(line.encode(), "mqtt", "docs")
            except CommandError as exc:
                problems.append(f"{block.where}: {line}: {exc.reason}")
            problems += [f"{block.where}: {line}: {p}" for p in schema_problems(json.loads(line), "shipmentCommand")]
    return problems


def accuracy_truth_problems(block: Block) -> list[str]:
    from gateway.bench.recording import RecordingError, load_truth

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "truth.yaml"
        path.write_text(block.text, encoding="utf-8")
        try:
            load_truth(path, "docs")
        except RecordingError as exc:
            return [f"{block.where}: {exc}"]
    return []


@cache
def _event_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((REPO / "docs" / "event.schema.json").read_text(encoding="utf-8"))
    return loaded


def schema_problems(value: Any, definition: str | None, shown: bool = False) -> list[str]:
    """How ``value`` breaks docs/event.schema.json's ``$defs/DEFINITION`` (the root: None). ``shown``: an
    object with members left out: only the members it has are checked, each against its own schema."""
    from jsonschema import Draft202012Validator

    root = _event_schema()
    if shown and isinstance(value, dict):
        target = root["$defs"][definition] if definition else root
        known = target.get("properties", {})
        problems = [f"{key}: not a member of {definition or 'an event'}" for key in value if key not in known]
        for key, member in value.items():
            if key in known and member != _ELIDED and not isinstance(member, dict):  # an object: may be cut short
                sub = {"$defs": root["$defs"], **known[key]}
                problems += [f"{key}: {e.message}" for e in Draft202012Validator(sub).iter_errors(member)]
        return problems
    schema = {"$defs": root["$defs"], "$ref": f"#/$defs/{definition}"} if definition else root
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(value)]


_ELIDED = "<elided>"


def _elided_json(text: str) -> Any:
    """JSON where ``...`` stands for members or items left out: those dropped, ``[...]`` / ``{...}`` kept as
    a marker that is not checked."""
    text = re.sub(r"\[\s*\.\.\.\s*\]|\{\s*\.\.\.\s*\}", lambda _: json.dumps(_ELIDED), text)
    text = re.sub(r",\s*\.\.\.\s*(?=[,}\]])", "", text)
    text = re.sub(r"(?<=[{\[])\s*\.\.\.\s*,", "", text)
    return json.loads(text)


def _topic_schema(topic: str) -> str | bool | None:
    """The $defs name of what the gateway publishes on ``topic`` (None: an event), False for no such topic."""
    from gateway.config import MqttSettings
    from gateway.delivery.topics import Topics

    t = Topics(MqttSettings(), topic.split("/")[1] if topic.count("/") else "gw")
    prefix = t.shipment_replies
    if topic == prefix or topic.startswith(prefix + "/"):
        return "shipmentReply"
    kinds: list[tuple[str, str | None]] = [
        (t.door_status("+"), "doorStatus"),
        (t.reader_status("+"), "readerStatus"),
        (t.status, "gatewayStatus"),
        (t.journal_checkpoint, "journalCheckpoint"),
        (t.event("+", "+"), None),
        (t.owner_event("+", "+"), None),
    ]
    return next((name for pattern, name in kinds if topic_matches(pattern, topic)), False)


def mqtt_problems(block: Block) -> list[str]:
    problems = []
    for line in block.text.splitlines():
        if not line.strip():
            continue
        topic, _, payload = line.partition(" ")
        definition = _topic_schema(topic)
        if definition is False:
            problems.append(f"{block.where}: {topic}: not a topic the gateway publishes on")
            continue
        try:
            doc = _elided_json(payload)
        except ValueError as exc:
            problems.append(f"{block.where}: {topic}: the payload is not JSON (with ... for what is left out): {exc}")
            continue
        found = schema_problems(doc, definition if isinstance(definition, str) else None, shown=True)
        if isinstance(doc, dict) and definition == "shipmentReply" and isinstance(doc.get("shipment"), dict):
            found += [f"shipment.{p}" for p in schema_problems(doc["shipment"], "shipmentView", shown=True)]
        problems += [f"{block.where}: {topic}: {p}" for p in found]
    return problems


def header_problems(block: Block) -> list[str]:
    """The header a real login sets, name and attributes, against the block's."""
    from tests.unit import test_session as api

    name, _, value = block.text.strip().partition(": ")
    if name.lower() != "set-cookie":
        return [f"{block.where}: only Set-Cookie is checked, against a real login"]
    with tempfile.TemporaryDirectory() as tmp:
        running = api._start(api._settings(Path(tmp)))
        try:
            answer = running.login(api.VIEWER, "/")
        finally:
            running.stop()
    real = answer.headers.get_all("Set-Cookie") or []
    shown = [a.strip() for a in value.split(";")]
    pattern = re.escape(shown[0])
    pattern = re.sub(r"<[^>]+>", "[^;]+", pattern.replace("\\<", "<").replace("\\>", ">"))
    for header in real:
        attributes = [a.strip() for a in header.split(";")]
        if re.fullmatch(pattern, attributes[0]) and set(attributes[1:]) == set(shown[1:]):
            return []
    return [f"{block.where}: a login sets {real}, not {block.text.strip()!r}"]


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        raise AssertionError("promtool is not installed: run ./scripts/test, which installs it")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=30, check=False)


def prometheus_config_problems(block: Block) -> list[str]:
    """``promtool check config``, the files the block names under /etc/prometheus/ made in a temp folder."""
    with tempfile.TemporaryDirectory() as tmp:
        text = block.text
        for path in sorted(set(re.findall(r"/etc/prometheus/[\w.-]+", text))):  # promtool reads the token file
            (Path(tmp) / Path(path).name).write_text("a-token\n", encoding="utf-8")
            text = text.replace(path, str(Path(tmp) / Path(path).name))
        (Path(tmp) / "prometheus.yml").write_text(text, encoding="utf-8")
        done = _promtool("check", "config", str(Path(tmp) / "prometheus.yml"))
    return [] if done.returncode == 0 else [f"{block.where}: promtool check config: {done.stdout}{done.stderr}"]


def promql_problems(block: Block) -> list[str]:
    problems = metric_problems(block.where, block.text)
    with tempfile.TemporaryDirectory() as tmp:
        for line in block.text.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                rules = Path(tmp) / "rules.yml"
                rule = {"groups": [{"name": "docs", "rules": [{"record": "docs:query", "expr": line.strip()}]}]}
                rules.write_text(yaml.safe_dump(rule), encoding="utf-8")
                done = _promtool("check", "rules", str(rules))
                if done.returncode:
                    problems.append(f"{block.where}: {line.strip()}: promtool: {done.stdout}{done.stderr}")
    return problems


def systemd_problems(block: Block) -> list[str]:
    unit = (REPO / "systemd" / "dockgate.service").read_text(encoding="utf-8")
    sections: dict[str, set[str]] = {}
    current = ""
    for line in unit.splitlines():
        if line.startswith("["):
            current = line.strip()
        elif line.strip() and not line.startswith("#"):
            sections.setdefault(current, set()).add(line.strip())
    problems, current = [], ""
    for line in block.text.splitlines():
        if line.startswith("["):
            current = line.strip()
            if current not in sections:
                problems.append(f"{block.where}: systemd/dockgate.service has no {current}")
        elif line.strip() and not line.startswith("#") and line.strip() not in sections.get(current, set()):
            problems.append(f"{block.where}: {line.strip()!r} is not in {current} of systemd/dockgate.service")
    return problems


def python_problems(block: Block) -> list[str]:
    try:
        compile(block.text, block.where, "exec")
    except SyntaxError as exc:
        return [f"{block.where}: {exc}"]
    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run(
        [str(ruff), "check", "--isolated", "--select", "F", "--output-format", "concise", "--stdin-filename", "doc.py"],
        input=block.text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return [] if done.returncode == 0 else [f"{block.where}: ruff (pyflakes): {done.stdout.strip()}"]


def topic_problems(block: Block) -> list[str]:
    problems = []
    for pattern in block.text.split():
        why = topic_filter_problem(pattern)
        if why:
            problems.append(f"{block.where}: {pattern}: {why}")
        elif not any(topics_overlap(pattern, t) for t in published_topics()):
            problems.append(f"{block.where}: {pattern} matches no topic the gateway publishes on")
    return problems


def _tls_verification_off() -> None:
    from gateway.config import MqttSettings
    from gateway.delivery.mqtt import _tls_context

    _tls_context(MqttSettings(host="10.0.0.5", port=8883, tls={"insecure_skip_verify": True}))


# How to make the gateway write a log line a doc shows, by its event: the line it writes is compared.
LOG_PRODUCERS: dict[str, Callable[[], None]] = {"tls_verification_off": _tls_verification_off}


def _written(logger: str, produce: Callable[[], None]) -> list[str]:
    """The lines ``produce`` makes ``logger`` write, formatted as ``dockgate run`` writes them."""
    import logging

    from gateway.ops.logs import KeyValueFormatter

    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(KeyValueFormatter())
    target = logging.getLogger(logger)
    level = target.level
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    try:
        produce()
    finally:
        target.removeHandler(handler)
        target.setLevel(level)
    return sink.getvalue().splitlines()


def _shown_in(fields: dict[str, str], line: str) -> bool:
    """Each field shown is one of ``line``'s, with the same value (a value ending in `` ...``: its start)."""
    real = dict(w.split("=", 1) for w in shlex.split(line) if "=" in w)
    return all(
        key in real and (real[key].startswith(value[:-4]) if value.endswith(" ...") else real[key] == value)
        for key, value in fields.items()
    )


def log_problems(block: Block) -> list[str]:
    """The module the line names logs its event with its fields; where ``LOG_PRODUCERS`` knows how to make
    the gateway write it, the line written has every field shown, with its value."""
    problems = []
    for line in block.text.splitlines():
        fields = dict(w.split("=", 1) for w in shlex.split(line) if "=" in w)
        logger, event = fields.get("logger", ""), fields.get("event", "")
        module = REPO / Path(*logger.split(".")).with_suffix(".py")
        if not logger or not module.is_file():
            problems.append(f"{block.where}: logger={logger}: no such module")
            continue
        source = module.read_text(encoding="utf-8")
        if f'"{event}"' not in source:
            problems.append(f"{block.where}: {module.relative_to(REPO)} logs no event={event}")
        problems += [
            f"{block.where}: {module.relative_to(REPO)} logs no field {key}="
            for key in fields
            if key not in ("level", "logger", "event", "ts", "msg") and not re.search(rf"\b{key}=", source)
        ]
        if event in LOG_PRODUCERS:
            written = _written(logger, LOG_PRODUCERS[event])
            if not any(_shown_in(fields, real) for real in written):
                problems.append(f"{block.where}: the gateway writes {written}, not {line!r}")
    return problems


@cache
def _code_text() -> str:
    return "\n".join(
        p.read_text(encoding="utf-8") for d in ("gateway", "drivers", "simulators") for p in (REPO / d).rglob("*.py")
    )


KNOWN_TERMS = frozenset({"QoS"})  # CamelCase words of the trade, not names of the code


def diagram_problems(block: Block) -> list[str]:
    code = _code_text()
    llrp = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "drivers" / "llrp").rglob("*.py"))
    problems = [
        f"{block.where}: {name} is no name in the code"
        for name in sorted(set(re.findall(r"\b[A-Z][a-z]+(?:[A-Z][a-z0-9]*)+\b", block.text)) - KNOWN_TERMS)
        if not re.search(rf"\b{name}\b", code)
    ]
    problems += [
        f"{block.where}: {name} is no message of the LLRP driver"
        for name in sorted(set(re.findall(r"\b[A-Z]+(?:_[A-Z]+)+\b", block.text)))
        if not re.search(rf"\b{name}\b", llrp)
    ]
    if "states" in block.attrs:
        schema = _event_schema()["$defs"]
        states = set(schema[block.attrs["states"]]["properties"]["state"]["enum"])
        commands = set(schema["shipmentCommand"]["properties"]["command"]["enum"])
        shown = set(re.findall(r"[a-z_]+", re.sub(r"\([^)]*\)", " ", block.text)))
        if shown != states:
            problems.append(f"{block.where}: the states drawn {sorted(shown)} are not {sorted(states)}")
        problems += [
            f"{block.where}: ({action}) is no shipment command"
            for action in re.findall(r"\((\w+)\)", block.text)
            if action not in commands
        ]
    return problems


def mosquitto_problems(block: Block) -> list[str]:
    """The cheap part (a real mosquitto starts with it in tests/e2e/test_docs_mosquitto.py)."""
    problems = [
        f"{block.where}: {line.strip()!r}: put the comment on a line of its own" for line in trailing_comments(block)
    ]
    if block.mosquitto_file is None:
        problems.append(f"{block.where}: the first line is a comment naming the file (# /etc/mosquitto/...)")
    if block.kind == "conf mosquitto-acl":  # a rule for a topic the gateway never uses is a typo
        for words in (line.split() for line in block.text.splitlines()):
            if words and words[0] in ("topic", "pattern"):
                pattern = words[-1].replace("%u", "gw-dock-3")
                if not any(topics_overlap(pattern, t) for t in published_topics()):
                    problems.append(f"{block.where}: {' '.join(words)}: no topic of the gateway matches it")
    return problems


CHECKS: dict[str, Callable[[Block], list[str]]] = {
    "yaml dockgate": config_problems,
    "yaml dockgate-part": config_problems,
    "yaml dockgate-invalid": config_problems,
    "conf mosquitto": mosquitto_problems,
    "conf mosquitto-acl": mosquitto_problems,
    "sh": shell_problems,
    "text output": output_problems,
    "json event": event_problems,
    "json epcis": epcis_problems,
    "json shipment-commands": shipment_command_problems,
    "yaml accuracy-truth": accuracy_truth_problems,
    "yaml prometheus": prometheus_config_problems,
    "promql": promql_problems,
    "ini systemd": systemd_problems,
    "python": python_problems,
    "text topic": topic_problems,
    "text log": log_problems,
    "text mqtt": mqtt_problems,
    "text header": header_problems,
    "text diagram": diagram_problems,
}
assert set(CHECKS) | {"text illustration"} == KINDS


def problems(block: Block) -> list[str]:
    """Everything wrong with ``block``: an unknown kind, or what its kind's check finds."""
    check = CHECKS.get(block.kind)
    return kind_problems(block) + (check(block) if check else [])


def counts() -> dict[str, int]:
    """Blocks by kind; those of ``NOT_YET_TAGGED`` docs (not checked yet) as ``not yet tagged``."""
    found: dict[str, int] = {}
    for block in all_blocks():
        kind = "not yet tagged" if block.doc.name in NOT_YET_TAGGED else block.kind
        found[kind] = found.get(kind, 0) + 1
    return dict(sorted(found.items()))


def _iter_illustrations() -> Iterator[Block]:
    return (b for b in all_blocks() if b.kind == "text illustration")


if __name__ == "__main__":  # .venv/bin/python -m tests.docchecks: the blocks by kind, and the illustrations
    for kind, n in counts().items():
        print(f"{n:4}  {kind}")
    for block in _iter_illustrations():
        print(f"illustration: {block.where}: {block.text.splitlines()[0].strip()[:60]}")


# --- the names the docs' prose uses (inline code spans): each exists ------------------------------------------
