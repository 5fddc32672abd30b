"""USB HID boot keyboard reports -> the characters a keyboard-wedge scanner typed (US layout).

A boot keyboard report is 8 bytes: modifier bits, a reserved byte, up to six pressed key codes (HID
Usage Tables, Keyboard/Keypad page 0x07). A key counts once, in the report where it first appears
(scanners release each key before repeating it). Enter ends a scan and is given as CR, so the shared
``ScanFramer`` frames HID and serial scanners alike. Ctrl+] is GS (0x1D), how scanners type FNC1.
"""

from __future__ import annotations

from typing import Final

_SHIFT: Final = 0x02 | 0x20
_CTRL: Final = 0x01 | 0x10
_ENTER: Final = frozenset({0x28, 0x58})
_ROLLOVER: Final = 0x01  # phantom state: too many keys pressed

# key code -> (unshifted, shifted)
US_KEYS: Final[dict[int, tuple[str, str]]] = {
    **{0x04 + i: (chr(ord("a") + i), chr(ord("A") + i)) for i in range(26)},
    **{0x1E + i: (d, s) for i, (d, s) in enumerate(zip("1234567890", "!@#$%^&*()", strict=True))},
    0x2B: ("\t", "\t"),
    0x2C: (" ", " "),
    0x2D: ("-", "_"),
    0x2E: ("=", "+"),
    0x2F: ("[", "{"),
    0x30: ("]", "}"),
    0x31: ("\\", "|"),
    0x33: (";", ":"),
    0x34: ("'", '"'),
    0x35: ("`", "~"),
    0x36: (",", "<"),
    0x37: (".", ">"),
    0x38: ("/", "?"),
    0x54: ("/", "/"),
    0x55: ("*", "*"),
    0x56: ("-", "-"),
    0x57: ("+", "+"),
    **{0x59 + i: (str(i + 1), str(i + 1)) for i in range(9)},
    0x62: ("0", "0"),
    0x63: (".", "."),
}


class HidKeyboardDecoder:
    """Feed 8-byte reports; get back the bytes typed (UTF-8 of the characters, CR for Enter)."""

    def __init__(self) -> None:
        self._down: frozenset[int] = frozenset()
        self.unknown_keys = 0

    def feed(self, report: bytes) -> bytes:
        if len(report) < 3:
            return b""
        modifiers = report[0]
        keys = [k for k in report[2:8] if k]
        if _ROLLOVER in keys:
            return b""
        out: list[str] = []
        for key in keys:
            if key in self._down:
                continue
            if key in _ENTER:
                out.append("\r")
            elif modifiers & _CTRL and key == 0x30:
                out.append("\x1d")
            elif key in US_KEYS:
                out.append(US_KEYS[key][1 if modifiers & _SHIFT else 0])
            else:
                self.unknown_keys += 1
        self._down = frozenset(keys)
        return "".join(out).encode("utf-8")
