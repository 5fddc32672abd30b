"""The names the docs use exist (issue 20): every config key, metric, alert, ``dockgate`` command and flag, and
MQTT topic that the prose of a doc names in inline code; and the topics the gateway uses, for the blocks'
checks (tests/docchecks.py)."""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path

import yaml

from tests.docblocks import DOCS, NOT_YET_TAGGED, REPO
from tests.doccli import cli_flags, cli_problems, dockgate_args


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
