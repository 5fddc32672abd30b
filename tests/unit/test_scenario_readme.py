"""What simulators/scenarios/README.md says about the simulated reader's antennas is what the simulator
starts with for each scenario of the library (issue 20, defect 7)."""

from __future__ import annotations

import re

import pytest

from simulators.llrp.cli import default_antennas
from simulators.llrp.scenario import load_scenario
from simulators.scenarios import library, library_dir

pytestmark = pytest.mark.timeout(30)


def claimed_antennas() -> dict[str, int]:
    """Per library file, the antenna count the README's "the reader gets ..." sentence claims.

    The sentence is "the reader gets N antennas for `a.yaml` and `b.yaml` ..., M for the others" or, with
    no file named, "the reader gets N antennas ..." for every file.
    """
    text = " ".join((library_dir() / "README.md").read_text(encoding="utf-8").split())
    found = re.search(r"the reader gets (\d+) antennas?(.*?)\.(?=\s|$)", text)
    assert found, "README.md: no 'the reader gets N antennas' sentence"
    first, rest = int(found.group(1)), found.group(2)
    names = [path.name for path in library()]
    named = re.match(r" for ((?:`[^`]+\.yaml`(?:,? and |, )?)+)", rest)
    if named is None:
        return dict.fromkeys(names, first)
    claims = dict.fromkeys(re.findall(r"`([^`]+\.yaml)`", named.group(1)), first)
    others = re.search(r"(\d+) for the others", rest)
    assert others, f"README.md: {found.group(0)!r} names files but not what the others get"
    assert set(claims) <= set(names), f"README.md names files not in the library: {set(claims) - set(names)}"
    return {name: claims.get(name, int(others.group(1))) for name in names}


def test_the_readme_says_how_many_antennas_the_simulator_gives_each_scenario() -> None:
    claims = claimed_antennas()
    real = {path.name: default_antennas(load_scenario(path)) for path in library()}
    assert claims == real
