"""What a US-layout keyboard-wedge scanner presses to type a character, as USB HID boot keyboard reports.

The key codes are usage IDs of the Keyboard/Keypad page (0x07) of the USB HID Usage Tables. This table is
the device's own, written from the specification and not shared with the driver's decoder
(``drivers/scanners/hid_keyboard.py``): a wrong code in either one then fails the round trip in
``tests/unit/test_scanner_usb_hid.py`` instead of agreeing with itself.

What the driver expects, as real scanners do it: Enter ends a scan; GS (0x1D), the GS1 FNC1 separator, is
typed as Ctrl+] (the ASCII control code of ``]``); every character is one press report followed by one
all-keys-up report, so a repeated character is pressed again rather than held.
"""

from __future__ import annotations

from typing import Final

LEFT_CTRL: Final = 0x01  # modifier bits, byte 0 of a boot keyboard report
LEFT_SHIFT: Final = 0x02

ENTER: Final = 0x28
TAB: Final = 0x2B
RIGHT_BRACKET: Final = 0x30
GS: Final = "\x1d"

# Runs of consecutive usage IDs: (first ID, characters without Shift, the same keys with Shift). 0x32
# (Non-US # and ~) is not on a US keyboard and is skipped between the two punctuation runs.
_RUNS: Final = (
    (0x04, "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    (0x1E, "1234567890", "!@#$%^&*()"),
    (0x2C, " -=[]\\", " _+{}|"),
    (0x33, ";'`,./", ':"~<>?'),
)


def _build() -> dict[str, tuple[int, int]]:
    keys: dict[str, tuple[int, int]] = {"\r": (0, ENTER), "\n": (0, ENTER), "\t": (0, TAB)}
    keys[GS] = (LEFT_CTRL, RIGHT_BRACKET)
    for first, plain, shifted in _RUNS:
        for offset, (char, shifted_char) in enumerate(zip(plain, shifted, strict=True)):
            keys.setdefault(char, (0, first + offset))
            keys.setdefault(shifted_char, (LEFT_SHIFT, first + offset))
    return keys


KEYS: Final[dict[str, tuple[int, int]]] = _build()
"""Character -> (modifier bits, usage ID). CR and LF are both Enter; space needs no Shift."""


def key_for(char: str) -> tuple[int, int]:
    """(modifier bits, usage ID) that type ``char``; ValueError if a US keyboard has no key for it."""
    try:
        return KEYS[char]
    except KeyError:
        raise ValueError(f"{char!r} cannot be typed on a US keyboard") from None


def reports_for(text: str) -> list[bytes]:
    """The 8-byte boot keyboard reports that type ``text``: a press and a release per character."""
    reports: list[bytes] = []
    for char in text:
        modifiers, usage = key_for(char)
        reports.append(bytes([modifiers, 0, usage, 0, 0, 0, 0, 0]))
        reports.append(bytes(8))
    return reports
