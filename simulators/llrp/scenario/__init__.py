"""Scenarios: which tags pass which reader antennas when, with their ground truth.

- ``model.py``: what a scenario is (pallets, visits, static tags, faults) and its truth;
- ``file_format.py``: the YAML file format as pydantic models (described for people in ``README.md``);
- ``loading.py``: files -> scenarios, errors that name the field path;
- ``reads.py``: the individual tag reads a scenario produces.

Callers import from here; the modules above are how it is built.
"""

from simulators.llrp.durations import ScenarioError, parse_duration
from simulators.llrp.scenario.loading import default_scenario_path, load_scenario, scenario_from_dict
from simulators.llrp.scenario.model import Pallet, Scenario, StaticTag, TrueVisit, Visit
from simulators.llrp.scenario.reads import ReadStream, TagRead

__all__ = [
    "Pallet",
    "ReadStream",
    "Scenario",
    "ScenarioError",
    "StaticTag",
    "TagRead",
    "TrueVisit",
    "Visit",
    "default_scenario_path",
    "load_scenario",
    "parse_duration",
    "scenario_from_dict",
]
