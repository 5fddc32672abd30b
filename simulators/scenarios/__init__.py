"""The scenario library: YAML scenarios with ground truth and the site config they are meant for,
for scoring the gateway's accuracy. See README.md in this folder."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def library_dir() -> Path:
    """The folder holding the library's scenario files."""
    return Path(str(resources.files("simulators.scenarios")))


def library() -> list[Path]:
    """Every library scenario file, sorted by name."""
    return sorted(library_dir().glob("*.yaml"))
