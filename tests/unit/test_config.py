"""Config errors, case by case, against the exact messages; and `dockgate check-config` end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drivers.llrp.settings import LLRPReaderSettings
from gateway.config import Config, load_config, parse_config
from gateway.domain.errors import ConfigError

VALID = """\
gateway:
  id: gw-dock-3
mqtt:
  host: 127.0.0.1
  port: 1883
  topic_prefix: dockgate
readers:
  - name: portal-3
    type: llrp
    host: 127.0.0.1
    port: 5084
    antennas: [1, 2, 3, 4]
locations:
  - name: dock-3
    read_points:
      - reader: portal-3
        antennas: [1, 2, 3, 4]
pipeline:
  arrive_min_reads: 2
  arrive_window: 1s
  depart_after: 5s
outbox:
  path: ./var/outbox.db
"""

SECOND_READER = """\
  - name: portal-4
    type: llrp
    host: 127.0.0.1
    antennas: [1, 2]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    return info.value.problems


def test_valid_config_loads_with_typed_values() -> None:
    config = parse_config(VALID)
    assert config.gateway.id == "gw-dock-3"
    assert config.readers[0].antennas == [1, 2, 3, 4]
    assert config.pipeline.arrive_window == 1.0
    assert config.pipeline.depart_after == 5.0
    assert config.mqtt.protocol == "5"
    assert config.outbox.path == Path("var/outbox.db")


@pytest.mark.parametrize(
    ("text", "value"),
    [("250ms", 0.25), ("5s", 5.0), ("2m", 120.0), ("1.5s", 1.5), ("3", 3.0)],
)
def test_durations(text: str, value: float) -> None:
    config = parse_config(VALID.replace("depart_after: 5s", f"depart_after: {text}"))
    assert config.pipeline.depart_after == value


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "port: 5084",
            "port: abc",
            ["readers[0].port: expected a TCP port 1-65535, got 'abc'"],
        ),
        (
            "port: 5084",
            "port: 70000",
            ["readers[0].port: expected a TCP port 1-65535, got 70000"],
        ),
        (
            "port: 1883",
            "port: 0",
            ["mqtt.port: expected a TCP port 1-65535, got 0"],
        ),
        (
            "    port: 5084\n",
            "    port: 5084\n    colour: red\n",
            [f"readers[0].colour: unknown key (allowed: {', '.join(LLRPReaderSettings.model_fields)})"],
        ),
        (
            "  depart_after: 5s",
            "  depart_after: soon",
            ["pipeline.depart_after: expected a duration such as 250ms, 5s or 2m, got 'soon'"],
        ),
        (
            "  arrive_min_reads: 2",
            "  arrive_min_reads: two",
            ["pipeline.arrive_min_reads: expected an integer, got 'two'"],
        ),
        (
            "  arrive_min_reads: 2",
            "  arrive_min_reads: 0",
            ["pipeline.arrive_min_reads: expected a value >= 1, got 0"],
        ),
        (
            "type: llrp",
            "type: modbus",
            ["readers[0].type: expected one of 'llrp', 'serial', 'usb-hid', 'impinj-iot', got 'modbus'"],
        ),
        (
            "      - reader: portal-3",
            "      - reader: portal-9",
            ["locations[0].read_points[0].reader: no reader named 'portal-9' (readers: portal-3)"],
        ),
        (
            "        antennas: [1, 2, 3, 4]\npipeline",
            "        antennas: [1, 5]\npipeline",
            ["locations[0].read_points[0].antennas: antenna 5 is not among reader 'portal-3''s antennas [1, 2, 3, 4]"],
        ),
        (
            "id: gw-dock-3",
            "id: gw/dock/3",
            ["gateway.id: 'gw/dock/3' is not allowed here: use letters, digits, '-', '_' or '.', no '/', '+' or '#'"],
        ),
        (
            "    antennas: [1, 2, 3, 4]\nlocations",
            "    antennas: one\nlocations",
            ["readers[0].antennas: expected a list, got 'one'"],
        ),
        (
            "mqtt:\n  host: 127.0.0.1\n",
            "mqtt:\n  host: 127.0.0.1\n  protocol: 4\n",
            ["mqtt.protocol: expected one of '5' or '3.1.1', got 4"],
        ),
        (
            "gateway:\n  id: gw-dock-3\n",
            "gateway: {}\n",
            ["gateway.id: required field is missing"],
        ),
        (
            "outbox:",
            "outbx:",
            [
                f"outbx: unknown key (allowed: {', '.join(Config.model_fields)})",
            ],
        ),
    ],
)
def test_config_error_messages(old: str, new: str, expected: list[str]) -> None:
    """The allowed keys come from the schema itself: adding a key must not break this list."""
    assert old in VALID
    assert problems(VALID.replace(old, new, 1)) == expected


SCANNERS = """\
  - name: scanner-1
    type: serial
    port: /dev/serial/by-id/usb-Honeywell_Imaging_1234-if00
    baudrate: 9600
    terminator: CR
  - name: handheld-1
    type: usb-hid
    vendor_id: 0x0c2e
    product_id: 0x0b61
"""


def with_scanners(points: str = "      - reader: scanner-1\n      - reader: handheld-1\n") -> str:
    text = VALID.replace("locations:\n", SCANNERS + "locations:\n")
    return text.replace(
        "        antennas: [1, 2, 3, 4]\npipeline:", "        antennas: [1, 2, 3, 4]\n" + points + "pipeline:"
    )


def test_scanner_readers_and_read_points_without_antennas() -> None:
    config = parse_config(with_scanners() + "gs1:\n  company_prefix_lengths: {'0614141': 7, '4012345': 7}\n")
    serial, hid = config.readers[1], config.readers[2]
    assert serial.type == "serial" and serial.port.endswith("-if00") and serial.terminator == "CR"
    assert serial.dedupe_window == 1.0 and serial.antennas == []
    assert hid.type == "usb-hid" and (hid.vendor_id, hid.product_id) == (0x0C2E, 0x0B61)
    assert config.gs1.company_prefix_lengths == {"0614141": 7, "4012345": 7}
    assert config.gs1.default_company_prefix_length == 7
    assert config.pipeline.match_window == 10.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            with_scanners("      - reader: scanner-1\n        antennas: [1]\n"),
            ["locations[0].read_points[1].antennas: 'scanner-1' is a scanner: a scanner read point has no antennas"],
        ),
        (
            with_scanners().replace("    baudrate: 9600\n", "    baudrate: 9600\n    host: x\n"),
            [
                "readers[1].host: unknown key (allowed: name, max_length, dedupe_window, reconnect_delay_max, type, "
                "port, baudrate, bytesize, parity, stopbits, terminator, prefix, suffix)"
            ],
        ),
        (
            with_scanners().replace("vendor_id: 0x0c2e", "vendor_id: 0x1ffff"),
            ["readers[2].vendor_id: expected a USB id 0x0000-0xffff, got 131071"],
        ),
        (
            with_scanners().replace("    product_id: 0x0b61\n", ""),
            ["readers[2].product_id: required field is missing"],
        ),
        (
            with_scanners().replace("parity", "x").replace("baudrate: 9600", "parity: Q"),
            ["readers[1].parity: expected one of 'N', 'E', 'O', 'M' or 'S', got 'Q'"],
        ),
        (
            with_scanners() + "gs1: {company_prefix_lengths: {'0614141': 13}}\n",
            ["gs1.company_prefix_lengths: 0614141: expected a company prefix length 6-12, got 13"],
        ),
        (
            with_scanners().replace("    type: serial\n", ""),
            ["readers[1].type: required field is missing (one of 'llrp', 'serial', 'usb-hid', 'impinj-iot')"],
        ),
    ],
)
def test_scanner_config_errors(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def test_a_scanner_belongs_to_one_location() -> None:
    text = with_scanners().replace(
        "pipeline:", "  - name: dock-4\n    read_points:\n      - reader: scanner-1\npipeline:"
    )
    assert problems(text) == [
        "locations[1].read_points[0].reader: scanner 'scanner-1' already belongs to location 'dock-3'"
    ]


def test_duplicate_reader_and_location_names() -> None:
    text = VALID.replace("locations:\n", SECOND_READER.replace("portal-4", "portal-3") + "locations:\n")
    text = text.replace(
        "pipeline:",
        "  - name: dock-3\n    read_points:\n      - reader: portal-3\n        antennas: [1]\npipeline:",
    )
    assert problems(text) == [
        "readers[1].name: duplicate reader name 'portal-3'",
        "locations[1].name: duplicate location name 'dock-3'",
        "locations[1].read_points[0].antennas: antenna 1 of reader 'portal-3' already belongs to location 'dock-3'",
    ]


def test_several_problems_are_all_reported() -> None:
    text = VALID.replace("port: 5084", "port: abc").replace("depart_after: 5s", "depart_after: soon")
    assert problems(text) == [
        "readers[0].port: expected a TCP port 1-65535, got 'abc'",
        "pipeline.depart_after: expected a duration such as 250ms, 5s or 2m, got 'soon'",
    ]


def test_missing_sections() -> None:
    assert problems("gateway:\n  id: gw\n") == [
        "readers: required field is missing",
        "locations: required field is missing",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "gateway: [unclosed\n",
            "not valid YAML: line 2, column 1: expected ',' or ']', but got '<stream end>'",
        ),
        ("", "expected a mapping of sections (gateway, mqtt, readers, ...), got an empty file"),
        ("just a string\n", "expected a mapping of sections (gateway, mqtt, readers, ...), got a str"),
        ("- a\n- b\n", "expected a mapping of sections (gateway, mqtt, readers, ...), got a list"),
    ],
)
def test_not_a_config_at_all(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert info.value.problems[0].startswith("cannot read file: [Errno 2] No such file or directory")


def _dockgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.e2e  # a child process or TCP: end to end, in a file of unit tests
def test_check_config_cli_valid(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(VALID)
    result = _dockgate("check-config", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("config OK: gateway gw-dock-3")
    assert "portal-3 (llrp 127.0.0.1:5084, antennas [1, 2, 3, 4])" in result.stdout


@pytest.mark.e2e  # a child process or TCP: end to end, in a file of unit tests
def test_check_config_cli_invalid_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    """The README's example: a type error and a cross-reference error, both in one run."""
    path = tmp_path / "bad.yaml"
    path.write_text(VALID.replace("port: 5084", "port: abc").replace("reader: portal-3", "reader: portal-9"))
    result = _dockgate("check-config", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"{path}: invalid configuration (2 problem(s)):",
        "readers[0].port: expected a TCP port 1-65535, got 'abc'",
        "locations[0].read_points[0].reader: no reader named 'portal-9' (readers: portal-3)",
    ]


GOLDEN = Path(__file__).resolve().parent.parent / "data" / "config"


@pytest.mark.parametrize("case", sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()))
def test_golden_config_errors(case: str) -> None:
    """``tests/data/config/<case>/config.yaml`` gives exactly the problems in ``expected.txt``: the type
    errors and, in the same run, the cross-references that can be told for sure."""
    folder = GOLDEN / case
    with pytest.raises(ConfigError) as info:
        load_config(folder / "config.yaml")
    assert info.value.problems == (folder / "expected.txt").read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(
    "readers_and_locations",
    [
        "readers: {a: 1}\nlocations: [{read_points: [{reader: a, antennas: [true]}]}]",
        "readers: [{name: 5, type: [llrp]}]\nlocations: {x: 1}",
        "readers: [{name: a, type: llrp, antennas: [1, x]}]\nlocations: [{name: l, read_points: [{reader: a}]}]",
        "readers: [{name: a, type: serial, gpi: {location: x}}]\nlocations: [{neighbours: [1, null]}]",
        "readers: []\nlocations: []",
    ],
)
def test_malformed_data_is_reported_never_a_crash(readers_and_locations: str) -> None:
    assert problems("gateway: {id: gw}\n" + readers_and_locations)


@pytest.mark.e2e  # a child process or TCP: end to end, in a file of unit tests
def test_run_refuses_bad_config_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("readers: 3\n")
    result = _dockgate("run", "--config", str(path))
    assert result.returncode == 2
    assert "gateway: required field is missing" in result.stderr.splitlines()
    assert "readers: expected a list, got 3" in result.stderr.splitlines()


def test_shipped_example_config_is_valid() -> None:
    config = load_config(Path(__file__).resolve().parents[2] / "config" / "example.yaml")
    assert config.readers[0].report_timeout == 0.2


def test_gpi_location_must_exist() -> None:
    text = VALID.replace(
        "    antennas: [1, 2, 3, 4]\nlocations",
        "    antennas: [1, 2, 3, 4]\n    gpi: {port: 1, location: dock-9}\nlocations",
    )
    assert problems(text) == ["readers[0].gpi.location: no location named 'dock-9' (locations: dock-3)"]
