"""Fenced blocks of the docs, and the kinds they are tagged with (issue 20: the docs are executable).

Every fenced block of README.md and docs/*.md says what it is in its info string: a language, then a kind,
then optional ``key=value`` attributes (```` ```yaml dockgate-invalid file=bad.yaml ````). The kinds, and what
the test suite checks of each (the checks: tests/docchecks.py, run by tests/unit/test_docs_blocks.py and
tests/e2e/test_docs_mosquitto.py; the names in the prose: tests/docnames.py; ``python -m tests.docchecks``
counts the blocks by kind):

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
``yaml accuracy-truth``
    the truth of a recorded door: ``gateway.bench.recording.load_truth`` accepts it.
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

One doc is not tagged yet (``NOT_YET_TAGGED``): its blocks are listed and counted, not checked, and an
untagged block there fails nothing.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])

# Docs whose blocks are not tagged yet (being written): counted, not checked. Empty: every doc is checked.
NOT_YET_TAGGED: frozenset[str] = frozenset()

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
        "yaml accuracy-truth",
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
