"""The USB HID simulator's key table against the USB HID Usage Tables (Keyboard/Keypad page 0x07, US
layout). The expected codes are written out here from the specification, apart from both the simulator's
table and the driver's decoder."""

from __future__ import annotations

import pytest

from simulators.scanner.keymap import key_for, reports_for

pytestmark = pytest.mark.timeout(10)

SHIFT = 0x02  # Left Shift modifier bit
CTRL = 0x01  # Left Ctrl modifier bit

SPEC = [
    ("a", (0, 0x04)),
    ("z", (0, 0x1D)),
    ("A", (SHIFT, 0x04)),
    ("Q", (SHIFT, 0x14)),
    ("1", (0, 0x1E)),
    ("9", (0, 0x26)),
    ("0", (0, 0x27)),
    ("!", (SHIFT, 0x1E)),
    ("@", (SHIFT, 0x1F)),
    (")", (SHIFT, 0x27)),
    ("\r", (0, 0x28)),
    ("\n", (0, 0x28)),
    ("\t", (0, 0x2B)),
    (" ", (0, 0x2C)),
    ("-", (0, 0x2D)),
    ("_", (SHIFT, 0x2D)),
    ("=", (0, 0x2E)),
    ("+", (SHIFT, 0x2E)),
    ("[", (0, 0x2F)),
    ("]", (0, 0x30)),
    ("}", (SHIFT, 0x30)),
    ("\\", (0, 0x31)),
    ("|", (SHIFT, 0x31)),
    (";", (0, 0x33)),
    (":", (SHIFT, 0x33)),
    ("'", (0, 0x34)),
    ('"', (SHIFT, 0x34)),
    ("`", (0, 0x35)),
    ("~", (SHIFT, 0x35)),
    (",", (0, 0x36)),
    ("<", (SHIFT, 0x36)),
    (".", (0, 0x37)),
    (">", (SHIFT, 0x37)),
    ("/", (0, 0x38)),
    ("?", (SHIFT, 0x38)),
    ("\x1d", (CTRL, 0x30)),  # GS (GS1 FNC1) is Ctrl+], as the driver expects
]


@pytest.mark.parametrize(("char", "expected"), SPEC)
def test_key_codes_match_the_usage_tables(char: str, expected: tuple[int, int]) -> None:
    assert key_for(char) == expected


def test_every_printable_ascii_character_has_a_key() -> None:
    assert all(key_for(chr(c)) for c in range(0x20, 0x7F))


def test_each_character_is_a_press_then_a_release() -> None:
    assert reports_for("aA") == [
        bytes([0, 0, 0x04, 0, 0, 0, 0, 0]),
        bytes(8),
        bytes([SHIFT, 0, 0x04, 0, 0, 0, 0, 0]),
        bytes(8),
    ]


@pytest.mark.parametrize("char", ["é", "\x00", "\x7f", "€"])
def test_characters_without_a_us_key_are_refused(char: str) -> None:
    with pytest.raises(ValueError, match="cannot be typed on a US keyboard"):
        key_for(char)
