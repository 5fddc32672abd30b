"""Fenced blocks of the docs, and the checks that hold each against the real thing (issue 20).

Every fenced block of README.md and docs/*.md says what it is in its info string: a language, then a kind,
then optional ``key=value`` attributes (```` ```yaml dockgate-invalid file=bad.yaml ````). The kinds, and what
the test suite checks of each (tests/unit/test_docs_blocks.py, tests/e2e/test_docs_mosquitto.py):

``yaml dockgate``
    a whole configuration: ``dockgate check-config`` accepts it.
``yaml dockgate-part``
    part of a configuration: laid over README.md's whole one (its first ``yaml dockgate`` block; a section
    it names replaces that section, a list replaces the list), ``dockgate check-config`` accepts the result.
``yaml dockgate-invalid``
    a configuration ``dockgate check-config`` refuses; ``file=NAME`` is the file a ``text output`` block
    after it runs ``check-config`` on, and that block shows the errors.
``conf mosquitto`` / ``conf mosquitto-acl``
    a mosquitto configuration file / ACL file; the first line is a comment naming its path under
    ``/etc/mosquitto/``. No value line has a trailing comment (mosquitto reads it as part of the value); a real
    mosquitto starts with it, its paths rewritten to a temp folder, and the claims the doc makes of it (ACL
    refusals, a bridge that forwards) are checked (tests/e2e/test_docs_mosquitto.py, tests/e2e/test_owner_acl.py).
``sh``
    shell commands: ``bash -n`` parses them; ``dockgate check-config FILE`` of a file of the repository is run
    (and passes); every ``dockgate`` (or ``python -m gateway``) subcommand and flag
    they use is in that command's ``--help``; a ``python -m MODULE`` or ``python FILE`` names one that exists;
    ``mosquitto_pub``/``mosquitto_sub`` flags are in their ``--help``; a ``curl`` URL of the API is a path of
    docs/openapi.yaml; a ``./scripts/X`` exists.
``text output``
    the first line is ``$ COMMAND`` (a ``dockgate`` or ``python -m gateway`` command): run in a temp folder that
    holds the ``file=`` blocks of the same doc, it prints the other lines, as a contiguous run of its output,
    modulo times, ports and ids; a line ``...`` stands for any lines.
``json event``
    one event: valid against docs/event.schema.json.
``json epcis``
    one EPCIS 2.0 document: valid against the GS1 JSON schema (data/epcis/).
``json shipment-commands``
    one shipment command a line: ``gateway.shipments.commands.parse_command`` accepts each.
``yaml prometheus``
    a Prometheus server configuration: ``promtool check config`` accepts it (its files made in a temp folder).
``promql``
    one PromQL expression a line: ``promtool check rules`` accepts a rule with it.
``ini systemd``
    lines of a unit: each ``[Section]`` and ``Key=value`` is in systemd/dockgate.service.
``python``
    a Python program: it compiles, and ruff's pyflakes rules (undefined names, unused imports) pass.
``text topic``
    an MQTT topic filter: valid, and it matches a topic the gateway publishes on with the default templates.
``text log``
    a log line as ``key=value`` fields: ``logger=`` names a module whose source logs the ``event=`` with each
    of the line's other field names; for an event of ``LOG_PRODUCERS`` the gateway is made to write it, and
    the line it writes has each field shown, with its value (`` ...`` at the end of one: the rest left out).
``text mqtt``
    messages as ``mosquitto_sub -v`` prints them, ``TOPIC PAYLOAD`` a line: the topic is one the gateway uses
    (a reply goes to the response topic a command names: ``.../replies/shipments/CLIENT``), and the payload,
    where ``...`` stands for members left out, holds only members of that topic's schema in
    docs/event.schema.json (``$defs/doorStatus``, ``$defs/shipmentReply`` ...), each shown value valid.
``text header``
    an HTTP response header of the API: a real login (tests.unit.test_session's API) sets it with the same
    name and attributes; ``<...>`` parts of the value stand for what varies.
``text diagram``
    a drawing of the code's parts or of an exchange: every CamelCase name in it (``ReadIngress``,
    ``ConnectionAttemptEvent``) is a name in the code (gateway/, drivers/, simulators/), every UPPER_SNAKE name
    (``START_ROSPEC``) is in the LLRP driver; with ``states=DEF``, a state machine: its words outside
    parentheses are exactly the ``state`` values of docs/event.schema.json's ``$defs/DEF``, and a single word
    in parentheses (a transition) is a shipment command.
``text illustration``
    for the eye only (the machine a figure was measured on): not checked. Few.

Two docs are not tagged yet (``NOT_YET_TAGGED``): their blocks are listed and counted, not checked, and an
untagged block there fails nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])

# Being written by other engineers right now (2026-12-04): their blocks are tagged when those docs settle.
NOT_YET_TAGGED = frozenset({"traceability.md", "impinj-iot.md"})

KINDS = frozenset(
    {
        "yaml dockgate",
        "yaml dockgate-part",
        "yaml dockgate-invalid",
        "conf mosquitto",
        "conf mosquitto-acl",
        "sh",
        "text output",
        "json event",
        "json epcis",
        "json shipment-commands",
        "yaml prometheus",
        "promql",
        "ini systemd",
        "python",
        "text topic",
        "text log",
        "text mqtt",
        "text header",
        "text diagram",
        "text illustration",
    }
)

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.S | re.M)


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # of the opening fence, 1-based
    info: str  # the fence's info string: language, kind, attributes
    text: str
    attrs: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def where(self) -> str:
        try:
            return f"{self.doc.relative_to(REPO)}:{self.line}"
        except ValueError:  # a block made up by a test
            return f"{self.doc.name}:{self.line}"

    @property
    def lang(self) -> str:
        return self.info.split(" ", 1)[0] if self.info else ""

    @property
    def kind(self) -> str:
        """Language and kind, as in ``KINDS`` (``sh``, ``yaml dockgate``); the attributes left out."""
        return " ".join(w for w in self.info.split() if "=" not in w)

    @property
    def mosquitto_file(self) -> str | None:
        """The /etc/mosquitto/... path the first line of a mosquitto block names, or None."""
        if not self.kind.startswith("conf mosquitto"):
            return None
        first = self.text.split("\n", 1)[0]
        found = re.match(r"#\s*(/etc/mosquitto/\S+)", first)
        return found.group(1) if found else None


def parse(doc: Path, text: str) -> list[Block]:
    found = []
    for m in _FENCE.finditer(text):
        info = m.group(1).strip()
        attrs = dict(w.split("=", 1) for w in info.split() if "=" in w)
        found.append(Block(doc, text.count("\n", 0, m.start()) + 1, info, m.group(2), attrs))
    return found


def blocks(doc: Path) -> list[Block]:
    return parse(doc, doc.read_text(encoding="utf-8"))


def all_blocks() -> list[Block]:
    return [b for doc in DOCS for b in blocks(doc)]


def tagged_blocks(kind: str) -> list[Block]:
    return [b for b in all_blocks() if b.kind == kind]


def mosquitto_blocks() -> list[Block]:
    return [b for b in all_blocks() if b.mosquitto_file is not None]


def mosquitto_block(doc: str, path: str) -> Block:
    """The first block of ``docs/<doc>`` that is the file ``path`` (exactly, or followed by a note)."""
    for block in mosquitto_blocks():
        if block.doc.name == doc and block.mosquitto_file == path:
            return block
    raise AssertionError(f"docs/{doc}: no mosquitto block for {path}")


def trailing_comments(block: Block) -> list[str]:
    """Value lines with a ``#`` after the value: mosquitto reads that comment as part of the value."""
    return [
        line
        for line in block.text.splitlines()
        if line.strip() and not line.lstrip().startswith("#") and re.search(r"\s#", line)
    ]


def kind_problems(block: Block) -> list[str]:
    """An unknown kind, or none; a doc of ``NOT_YET_TAGGED`` may have untagged blocks still."""
    if block.kind in KINDS or block.doc.name in NOT_YET_TAGGED:
        return []
    return [f"{block.where}: fence info {block.info!r} is not one of the kinds of tests/docblocks.py"]


def shell_commands(text: str) -> list[list[str]]:
    """The simple commands of a shell text: continuation lines joined, comments dropped, split at ``;``,
    ``&&``, ``||``, ``|``; the brackets of a synopsis (``[--owner NAME]``) taken off."""
    commands: list[list[str]] = []
    for line in _logical_lines(text):
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        try:
            tokens = list(lexer)
        except ValueError:  # a quotation never closed: bash -n says so
            continue
        for token in tokens:
            if token and set(token) <= set(";&|"):
                if current:
                    commands.append(current)
                current = []
                continue
            token = token.strip("[]")
            if token:
                current.append(token)
        if current:
            commands.append(current)
    return commands


def _logical_lines(text: str) -> list[str]:
    """Lines with their continuations (a trailing backslash, a quote still open) joined."""
    out: list[str] = []
    pending = ""
    for line in text.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # a quotation still open
            continue
        out.append(pending)
        pending = ""
    if pending:
        out.append(pending)
    return out


# --- the checks of each kind: each returns the problems it finds, none when the block holds -------------------


def run_cli(args: list[str], cwd: Path | None = None) -> tuple[int, str]:
    """``dockgate ARGS`` run in this process (in ``cwd``): its exit code and what it wrote, stdout then stderr."""
    from gateway.cli import main

    out, err = io.StringIO(), io.StringIO()
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps --help to the terminal: the same width everywhere
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), contextlib.chdir(cwd or Path.cwd()):
            try:
                code = main(args)
            except SystemExit as exc:  # argparse: --help, or an error
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return code, out.getvalue() + err.getvalue()


def dockgate_args(argv: list[str]) -> list[str] | None:
    """The arguments of a ``dockgate`` or ``python -m gateway`` command line; None for another command."""
    if argv and Path(argv[0]).name == "dockgate":
        return argv[1:]
    if len(argv) >= 3 and re.fullmatch(r"python3?", Path(argv[0]).name) and argv[1:3] == ["-m", "gateway"]:
        return argv[3:]
    return None


@cache
def cli_parsers() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every ``dockgate`` command by its words (``("journal", "export")``), with its parser."""
    from gateway.cli.commands import _parser
    from simulators.llrp.cli import build_parser as llrp_parser
    from simulators.scanner.cli import _parser as scanner_parser

    found: dict[tuple[str, ...], argparse.ArgumentParser] = {}

    def walk(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
        found[path] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk((*path, name), sub)

    walk((), _parser())
    # ``dockgate simulate KIND ...`` hands KIND's arguments to the simulator's own parser
    found[("simulate", "llrp")] = llrp_parser()
    found[("simulate", "scanner")] = scanner_parser()
    return found


@cache
def cli_help(path: tuple[str, ...]) -> str:
    return run_cli([*path, "--help"])[1]


def cli_flags() -> dict[tuple[str, ...], list[str]]:
    """The long options of every command (``--help`` left out)."""
    return {
        path: [o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
        for path, parser in cli_parsers().items()
    }


def cli_problems(args: list[str], where: str) -> list[str]:
    """A subcommand that does not exist, or a flag its ``--help`` does not name."""
    parsers = cli_parsers()
    path: tuple[str, ...] = ()
    rest = list(args)
    while rest and (*path, rest[0]) in parsers:
        path = (*path, rest.pop(0))
    shown = " ".join(("dockgate", *args))
    command = " ".join(("dockgate", *path))
    has_subcommands = any(len(p) > len(path) and p[: len(path)] == path for p in parsers)
    if has_subcommands and rest and not rest[0].startswith("-"):
        return [f"{where}: `{shown}`: {rest[0]} is not a subcommand of `{command}`"]
    help_text = cli_help(path)
    return [
        f"{where}: `{shown}`: {flag} is not in `{command} --help`"
        for flag in (a.split("=", 1)[0] for a in rest if re.match(r"--?[A-Za-z]", a))
        if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text)
    ]


@cache
def _tool_help(tool: str) -> str:
    done = subprocess.run([tool, "--help"], capture_output=True, text=True, timeout=10, check=False)
    return done.stdout + done.stderr


@cache
def api_paths() -> list[re.Pattern[str]]:
    """The paths the HTTP listener serves: docs/openapi.yaml's, as patterns."""
    spec = yaml.safe_load((REPO / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
    return [re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) + "/?") for p in spec["paths"]]


def command_problems(argv: list[str], where: str) -> list[str]:
    """What is wrong with one simple command of a ``sh`` block, as far as it can be checked without running it."""
    args = dockgate_args(argv)
    if args is not None:
        problems = cli_problems(args, where)
        if not problems and args[:1] == ["check-config"] and len(args) == 2 and _repo_file(args[1]):
            code, out = run_cli(args, cwd=REPO)  # a file of the repository: cheap to run, so run it
            problems += [f"{where}: `dockgate check-config {args[1]}` exits {code}:\n{out}"] if code else []
        return problems
    name = Path(argv[0]).name
    if re.fullmatch(r"python3?", name) and len(argv) > 1:
        if argv[1] == "-m":
            import importlib.util

            found = importlib.util.find_spec(argv[2]) is not None
            return [] if found else [f"{where}: `python -m {argv[2]}`: no such module"]
        return [] if (REPO / argv[1]).is_file() else [f"{where}: `python {argv[1]}`: no such file in the repository"]
    if argv[0].startswith("./"):
        script = REPO / argv[0]
        return [] if os.access(script, os.X_OK) else [f"{where}: {argv[0]}: no such executable in the repository"]
    if name in ("mosquitto_pub", "mosquitto_sub"):
        if shutil.which(name) is None:
            return [f"{where}: {name} is not installed (./scripts/test installs mosquitto-clients)"]
        return [
            f"{where}: {name} {flag}: not in `{name} --help`"
            for flag in argv[1:]
            if re.fullmatch(r"-[A-Za-z]|--[\w-]+", flag)
            and not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", _tool_help(name))
        ]
    if name == "curl":
        return [
            f"{where}: curl {url}: {path} is not a path of docs/openapi.yaml"
            for url in argv[1:]
            for path in re.findall(r"^(?:https?://)?(?:127\.0\.0\.1|localhost)(?::\d+)?(/[^?\s]*)", url)
            if not any(p.fullmatch(path) for p in api_paths())
        ]
    return []


def _repo_file(name: str) -> bool:
    return not Path(name).is_absolute() and (REPO / name).is_file()


def shell_problems(block: Block) -> list[str]:
    parsed = subprocess.run(["bash", "-n"], input=block.text, capture_output=True, text=True, check=False)
    problems = [f"{block.where}: bash -n: {parsed.stderr.strip()}"] if parsed.returncode else []
    for argv in shell_commands(block.text):
        problems += command_problems(argv, block.where)
    return problems


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


def published_topics() -> list[str]:
    """Every topic the gateway publishes on (or reads: shipment commands), as a filter: with the default
    templates and prefix, each part that varies (the gateway, a location, a reader, an owner) a ``+``."""
    from gateway.config import MqttSettings
    from gateway.delivery.topics import Topics

    topics = Topics(MqttSettings(), "+")
    return [
        topics.event("+", "+"),
        topics.epcis("+", "+"),
        topics.status,
        topics.reader_status("+"),
        topics.door_status("+"),
        topics.present("+"),
        topics.owner_event("+", "+"),
        topics.shipment_commands,
        topics.shipment_replies,
        topics.shipment_replies + "/+",  # a command's MQTT 5 response topic, as docs/security.md suggests
        topics.journal_checkpoint,
    ]


def topics_overlap(a: str, b: str) -> bool:
    """Some topic matches both filters (a ``$share/GROUP/`` prefix left out)."""
    left, right = (re.sub(r"^\$share/[^/+#]+/", "", f).split("/") for f in (a, b))
    for x, y in zip(left, right, strict=False):
        if "#" in (x, y):
            return True
        if x != y and "+" not in (x, y):
            return False
    longer = max(left, right, key=len)
    return len(left) == len(right) or (len(longer) == min(len(left), len(right)) + 1 and longer[-1] == "#")


def topic_filter_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a valid MQTT topic filter, or None (a ``$share/GROUP/`` prefix allowed)."""
    levels = re.sub(r"^\$share/[^/+#]+/", "", pattern).split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return "'#' must be a whole level, the last"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    return None


def topic_matches(pattern: str, topic: str) -> bool:
    levels, parts = re.sub(r"^\$share/[^/+#]+/", "", pattern).split("/"), topic.split("/")
    for i, level in enumerate(levels):
        if level == "#":
            return True
        if i >= len(parts) or level not in ("+", parts[i]):
            return False
    return len(levels) == len(parts)


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


if __name__ == "__main__":  # .venv/bin/python -m tests.docblocks: the blocks by kind, and the illustrations
    for kind, n in counts().items():
        print(f"{n:4}  {kind}")
    for block in _iter_illustrations():
        print(f"illustration: {block.where}: {block.text.splitlines()[0].strip()[:60]}")


# --- the names the docs' prose uses (inline code spans): each exists ------------------------------------------


def code_spans(text: str) -> list[str]:
    """The inline code spans of a Markdown text, fenced blocks left out."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.findall(r"`([^`\n]+)`", prose)


def prose_docs() -> list[Path]:
    """The docs whose prose is checked: all but ``NOT_YET_TAGGED`` and the generated references (made from
    the names they hold)."""
    made = {"config-reference.md", "cli-reference.md"}
    return [doc for doc in DOCS if doc.name not in NOT_YET_TAGGED | made]


# names a doc gives as what does not exist ("`mqtt.password` is not a setting")
NOT_SETTINGS = frozenset({"mqtt.password"})


def _is_python_name(dotted: str) -> bool:
    """``gateway.domain.log``, ``gateway.journal.checkpoint.sign``: a module, or a name in one."""
    import importlib.util

    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            if importlib.util.find_spec(".".join(parts[:end])) is not None:
                return True
        except ModuleNotFoundError:
            continue
    return False


def config_key_problems(where: str, spans: list[str]) -> list[str]:
    """A dotted name of a config section (``mqtt.tls.key_file``, ``readers[2].port``) that is no setting."""
    from gateway.config import Config
    from tests.reference_docs import all_settings

    keys = {s.key for s in all_settings()}
    problems = []
    for span in spans:
        for found in re.finditer(r"(?<![\w./-])([a-z_]+(?:\[\d*\])?(?:\.[a-z_]+(?:\[\d*\])?)+)(?![\w(/-])", span):
            name = found.group(1)
            key = re.sub(r"\[\d*\]", "[]", name)
            key = re.sub(r"^readers\.", "readers[].", key)  # "readers.gpi": a setting of the readers
            if (
                name.split(".")[0].split("[")[0] not in Config.model_fields
                or _is_python_name(name)
                or name in NOT_SETTINGS
            ):
                continue
            if not any(k == key or k.startswith(key + ".") or k.startswith(key + "[]") for k in keys):
                problems.append(f"{where}: `{span}`: {name} is not a setting (docs/config-reference.md)")
    return problems


@cache
def metric_names() -> frozenset[str]:
    """The metric families the gateway's code defines (names as written there: a counter without ``_total``)."""
    found: set[str] = set()
    for source in (REPO / "gateway").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        found |= set(re.findall(r"(?:MetricFamily|Histogram|Counter|Gauge|Summary|Info)\(\s*[\"'](dockgate_\w+)", text))
    return frozenset(found)


def metric_problems(where: str, text: str) -> list[str]:
    suffixes = ("", "_total", "_bucket", "_sum", "_count", "_created", "_info")
    real = {name + s for name in metric_names() for s in suffixes}
    named = set(re.findall(r"(?<![\w-])(dockgate_[a-z_]*[a-z])(?![\w-])", text))
    return [f"{where}: {name} is no metric of the gateway" for name in sorted(named - real)]


@cache
def alert_names() -> frozenset[str]:
    rules = yaml.safe_load((REPO / "config" / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    return frozenset(r["alert"] for group in rules["groups"] for r in group["rules"] if "alert" in r)


def alert_problems(where: str, text: str) -> list[str]:
    """An alert name (``DockgateReaderDown``) that config/prometheus/alerts.yml has not."""
    named = set(re.findall(r"\b(Dockgate[A-Z]\w+)\b", text))
    return [f"{where}: {name} is no alert of config/prometheus/alerts.yml" for name in sorted(named - alert_names())]


def flag_problems(where: str, spans: list[str]) -> list[str]:
    """A ``dockgate ...`` span with a subcommand or flag its --help has not; a span that is a bare flag
    (``--log-format json``) that no dockgate command has."""
    every = {"--help"} | {flag for flags in cli_flags().values() for flag in flags}
    problems = []
    for span in spans:
        try:
            argv = shlex.split(span)
        except ValueError:
            continue
        args = dockgate_args(argv)
        if args is not None:
            problems += cli_problems([a for a in args if not re.fullmatch(r"[A-Z]+|\.\.\.|<[^>]+>", a)], where)
        elif argv and argv[0].startswith("--") and argv[0].split("=")[0] not in every:
            problems.append(f"{where}: `{span}`: {argv[0]} is the flag of no dockgate command")
    return problems


def topic_name_problems(where: str, spans: list[str]) -> list[str]:
    """A topic (``{prefix}/{gateway}/doors/{location}/status``, ``dockgate/+/events/#``) no topic of the
    gateway matches; ``{...}`` and ``<...>`` are a level that varies, a trailing ``...`` any levels."""
    problems = []
    for span in spans:
        span = span.strip('"')
        if " " in span or "/" not in span or not re.match(r"(\{(topic_)?prefix\}|dockgate|\$share|\.\.\.)/", span):
            continue
        pattern = re.sub(r"\{[^}]+\}|<[^>]+>", "+", span)
        pattern = re.sub(r"^\.\.\./", "+/+/", re.sub(r"/\.\.\.$", "/#", pattern))
        if pattern.startswith("$share/") and pattern.count("/") < 3:
            continue  # "$share/audit/...": a group, the topic left out
        why = topic_filter_problem(pattern)
        if why or not any(topics_overlap(pattern, t) for t in published_topics()):
            problems.append(f"{where}: `{span}`: {why or 'no topic of the gateway matches it'}")
    return problems


def name_problems(doc: Path, text: str | None = None) -> list[str]:
    """Every config key, metric, dockgate command and flag, and MQTT topic the prose of ``doc`` names that
    does not exist."""
    text = doc.read_text(encoding="utf-8") if text is None else text
    spans = code_spans(text)
    where = doc.name
    return (
        config_key_problems(where, spans)
        + metric_problems(where, "\n".join(spans))
        + alert_problems(where, text)
        + flag_problems(where, spans)
        + topic_name_problems(where, spans)
    )
