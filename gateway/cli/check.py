"""``dockgate check-config FILE``, and the config loading that ``dockgate run`` shares."""

from __future__ import annotations

import argparse
import sys

from gateway.cli.exitcodes import EXIT_BAD_CONFIG, EXIT_OK
from gateway.config import Config, load_config
from gateway.domain.errors import ConfigError


def load_or_report(path: str) -> Config | None:
    """The config in ``path``, or None after printing every problem with it to stderr."""
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"{path}: invalid configuration ({len(exc.problems)} problem(s)):", file=sys.stderr)
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None


def cmd_check_config(ns: argparse.Namespace) -> int:
    config = load_or_report(ns.file)
    if config is None:
        return EXIT_BAD_CONFIG
    print(describe(config))
    return EXIT_OK


def describe(config: Config) -> str:
    """A short summary of a valid config."""
    readers = ", ".join(r.describe() for r in config.readers)  # each reader type says what matters of it
    locations = ", ".join(loc.name for loc in config.locations)
    mqtt = config.mqtt
    return (
        f"config OK: gateway {config.gateway.id}\n"
        f"  readers: {readers}\n"
        f"  locations: {locations}\n"
        f"  mqtt: {mqtt.host}:{mqtt.port} (MQTT {mqtt.protocol}), topics {mqtt.topic_prefix}/{config.gateway.id}/...\n"
        f"  outbox: {config.outbox.path}"
        + (f"\n  owners: {', '.join(o.name for o in config.owners)} (the rest: unassigned)" if config.owners else "")
    )
