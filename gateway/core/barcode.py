"""What a scanned barcode means: AIM symbology identifier, GS1 element strings, pure identity URI.

A scanner sends the symbol's data, optionally preceded by its AIM symbology identifier (``]C1`` GS1-128,
``]E0`` EAN-13, ``]d2`` GS1 DataMatrix, ``]Q3`` GS1 QR, ``]e0`` GS1 DataBar ...) and with FNC1 separators
sent as GS (0x1D). GS1 element strings are parsed with biip (AI table, check digits, date rules); a
barcode with an SSCC, a GTIN plus serial (SGTIN) or a GIAI gets the same pure identity URI that
``gateway.core.identity`` gives the matching RFID tag.

A GS1 key does not say how long its company prefix is, and the URI needs that length (it places the
dot). ``CompanyPrefixes`` decides it: the configured ``gs1.company_prefix_lengths`` (longest matching
key wins), else the length biip knows for the prefix range, else ``gs1.default_company_prefix_length``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["Barcode", "CompanyPrefixes", "parse_barcode", "split_aim"]

GS: Final = "\x1d"
_AIM: Final = re.compile(r"\][A-Za-z][0-9A-Za-z]")

# AIM symbology identifier -> name in events. The identifiers that announce GS1 data come first.
_GS1_SYMBOLOGIES: Final = {
    "]C1": "gs1-128",
    "]d2": "gs1-datamatrix",
    "]Q3": "gs1-qr",
    "]e0": "gs1-databar",
    "]J1": "gs1-dotcode",
}
_EAN_SYMBOLOGIES: Final = {
    "]E0": "ean-13",  # also UPC-A, sent as 13 digits with a leading 0
    "]E4": "ean-8",
}
_OTHER_SYMBOLOGIES: Final = {
    "A": "code-39",
    "C": "code-128",
    "d": "datamatrix",
    "Q": "qr",
    "I": "itf",
    "L": "pdf417",
    "z": "aztec",
    "F": "codabar",
    "G": "code-93",
    "E": "ean-upc",
}
# Characters a GS1 serial may hold (GS1 AI encodable character set 82) that a URI must %-escape (TDS 6).
_URI_ESCAPES: Final = {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}


class CompanyPrefixes:
    """How long the GS1 company prefix of a key is.

    ``lengths`` maps leading digits of the company prefix (``"0614141"``, or a shorter range such as
    ``"061"``) to a length 6-12; the longest matching key wins. ``default`` is used when neither the map
    nor biip's table of GS1 prefix ranges knows; None means "no URI" for unknown prefixes.
    """

    def __init__(self, lengths: Mapping[str, int] | None = None, default: int | None = 7) -> None:
        self._lengths = sorted((lengths or {}).items(), key=lambda item: -len(item[0]))
        self.default = default

    def length(self, digits: str, known: str | None = None) -> int | None:
        """Length of the company prefix at the start of ``digits``; ``known``: biip's prefix, if any."""
        for prefix, length in self._lengths:
            if digits.startswith(prefix):
                return length
        if known:
            return len(known)
        return self.default


@dataclass(frozen=True, slots=True)
class Barcode:
    """One scanned symbol: ``data`` without the AIM identifier; ``gs1`` maps AIs to values."""

    data: str
    symbology: str | None
    aim: str | None
    gs1: dict[str, str] | None
    uri: str | None
    error: str | None = None  # why GS1 data could not be parsed, when the symbology said it was GS1

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"data": self.data, "symbology": self.symbology, "aim": self.aim}
        if self.gs1 is not None:
            payload["gs1"] = self.gs1
        if self.error is not None:
            payload["error"] = self.error
        return payload


def split_aim(text: str) -> tuple[str | None, str]:
    """``"]C1001234..."`` -> ``("]C1", "001234...")``; text without an identifier -> ``(None, text)``."""
    if _AIM.match(text):
        return text[:3], text[3:]
    return None, text


def symbology_name(aim: str | None) -> str | None:
    if aim is None:
        return None
    return _GS1_SYMBOLOGIES.get(aim) or _EAN_SYMBOLOGIES.get(aim) or _OTHER_SYMBOLOGIES.get(aim[1])


def parse_barcode(text: str, prefixes: CompanyPrefixes | None = None) -> Barcode:
    """Interpret one scan. Never raises: data that is not what its symbology promises keeps ``error``."""
    prefixes = prefixes or CompanyPrefixes()
    aim, data = split_aim(text)
    symbology = symbology_name(aim)
    gs1: dict[str, str] | None = None
    error: str | None = None
    if aim in _GS1_SYMBOLOGIES or (aim is None and data.startswith("(")):
        gs1, error = _element_strings(data, hri=aim is None)
    elif aim in _EAN_SYMBOLOGIES or (aim is None and data.isdigit() and len(data) in (8, 12, 13, 14)):
        gtin = _gtin(data)
        if gtin is not None:
            gs1 = {"01": gtin}
        elif aim is not None:
            error = f"not a valid GTIN: {data!r}"
    uri = _uri(gs1, prefixes) if gs1 else None
    return Barcode(data=data, symbology=symbology, aim=aim, gs1=gs1, uri=uri, error=error)


def _element_strings(data: str, hri: bool) -> tuple[dict[str, str] | None, str | None]:
    from biip import ParseError
    from biip.gs1_messages import GS1Message

    try:
        message = GS1Message.parse_hri(data) if hri else GS1Message.parse(data.lstrip(GS))
    except ParseError as exc:
        return None, str(exc)
    fields: dict[str, str] = {}
    for element in message.element_strings:
        # biip keeps a bad check digit in a key as an error beside the value, not as an exception
        problem = element.sscc_error or element.gtin_error or element.gln_error
        if problem:
            return None, f"({element.ai.ai}) {problem}"
        fields[element.ai.ai] = element.value
    return fields, None


def _gtin(digits: str) -> str | None:
    """A GTIN-8/12/13/14 with a valid check digit, as 14 digits; else None."""
    from biip import ParseError
    from biip.gtin import Gtin

    try:
        return Gtin.parse(digits).as_gtin_14()
    except ParseError:
        return None


def _known_prefix(key: str) -> str | None:
    """The company prefix biip knows for a GTIN-14 or SSCC, from GS1's published prefix ranges."""
    from biip import ParseError
    from biip.gtin import Gtin
    from biip.sscc import Sscc

    try:
        found = Sscc.parse(key).company_prefix if len(key) == 18 else Gtin.parse(key).company_prefix
    except ParseError:
        return None
    return found.value if found is not None else None


def _uri(gs1: dict[str, str], prefixes: CompanyPrefixes) -> str | None:
    """SSCC (00), GTIN + serial (01 + 21) and GIAI (8004) -> ``urn:epc:id:...`` pure identity URI."""
    if sscc := gs1.get("00"):
        length = prefixes.length(sscc[1:], _known_prefix(sscc))
        if length is None or not 6 <= length <= 12:
            return None
        return f"urn:epc:id:sscc:{sscc[1 : 1 + length]}.{sscc[0]}{sscc[1 + length : 17]}"
    gtin, serial = gs1.get("01"), gs1.get("21")
    if gtin and serial:
        length = prefixes.length(gtin[1:], _known_prefix(gtin))
        if length is None or not 6 <= length <= 12:
            return None
        return f"urn:epc:id:sgtin:{gtin[1 : 1 + length]}.{gtin[0]}{gtin[1 + length : 13]}.{_escape(serial)}"
    if giai := gs1.get("8004"):
        length = prefixes.length(giai)
        if length is None or not 6 <= length <= 12 or len(giai) <= length or not giai[:length].isdigit():
            return None
        return f"urn:epc:id:giai:{giai[:length]}.{_escape(giai[length:])}"
    return None


def _escape(value: str) -> str:
    return "".join(_URI_ESCAPES.get(ch, ch) for ch in value)
