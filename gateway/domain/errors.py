"""The exceptions dockgate raises: one root, a few meaningful kinds."""

from __future__ import annotations


class DockgateError(Exception):
    """Root of every error dockgate raises on purpose."""


class ConfigError(DockgateError):
    """The configuration cannot be used. ``problems`` holds one line per problem, each naming its field path."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(problems))


class OutboxError(DockgateError):
    """The durable outbox could not store or read events."""


class DriverError(DockgateError):
    """A reader driver could not be created or started."""
