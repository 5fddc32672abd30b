"""GS1 barcodes: AIM identifiers, element strings, and the same pure identity URI as the RFID tag.

Expected values: the SSCC and SGTIN examples of the GS1 EPC Tag Data Standard (section 6.3: SSCC
106141412345678908 with a 7-digit company prefix is urn:epc:id:sscc:0614141.1234567890; GTIN
80614141123458 with serial 6789 is urn:epc:id:sgtin:0614141.812345.6789), and GS1 General
Specifications element strings (AI formats, check digits, FNC1 after variable-length fields,
DD=00 in dates) for the AIs supported here.
"""

from __future__ import annotations

import pytest

from gateway.core.barcode import CompanyPrefixes, parse_barcode, split_aim
from gateway.core.identity import epc_uri
from simulators.llrp.epc import sgtin96, sscc96


@pytest.mark.parametrize(
    ("scan", "symbology", "gs1", "uri"),
    [
        # (00) SSCC, GS1-128
        ("]C100106141412345678908", "gs1-128", {"00": "106141412345678908"}, "urn:epc:id:sscc:0614141.1234567890"),
        ("]C100106141411234567897", "gs1-128", {"00": "106141411234567897"}, "urn:epc:id:sscc:0614141.1123456789"),
        # (01) GTIN + (21) serial, GS1 DataMatrix: an SGTIN
        (
            "]d2018061414112345821" + "6789",
            "gs1-datamatrix",
            {"01": "80614141123458", "21": "6789"},
            "urn:epc:id:sgtin:0614141.812345.6789",
        ),
        # (01) (17) (10) with FNC1 (GS) after the variable-length batch, then (21), GS1 QR
        (
            "]Q3011061414100001917250331" + "10ABC-123\x1d21X/1",
            "gs1-qr",
            {"01": "10614141000019", "17": "250331", "10": "ABC-123", "21": "X/1"},
            "urn:epc:id:sgtin:0614141.100001.X%2F1",
        ),
        # (11) production and (15) best-before with day 00 (end of month), GS1 DataBar expanded
        (
            "]e00180614141123458" + "11240229" + "15241200",
            "gs1-databar",
            {"01": "80614141123458", "11": "240229", "15": "241200"},
            None,
        ),
        # (8004) GIAI
        ("]C180040614141ABC-9", "gs1-128", {"8004": "0614141ABC-9"}, "urn:epc:id:giai:0614141.ABC-9"),
        # EAN-13 and EAN-8 are GTINs: no serial, no URI
        ("]E05901234123457", "ean-13", {"01": "05901234123457"}, None),
        ("]E496385074", "ean-8", {"01": "00000096385074"}, None),
        # human-readable form from a scanner that sends HRI
        ("(00)106141412345678908", None, {"00": "106141412345678908"}, "urn:epc:id:sscc:0614141.1234567890"),
        # not GS1
        ("]C0PALLET-17", "code-128", None, None),
        ("]Q1https://example.com/x", "qr", None, None),
        ("HELLO", None, None, None),
    ],
)
def test_gs1_examples(scan: str, symbology: str | None, gs1: dict[str, str] | None, uri: str | None) -> None:
    barcode = parse_barcode(scan)
    assert barcode.symbology == symbology
    assert barcode.gs1 == gs1
    assert barcode.uri == uri
    assert barcode.error is None


@pytest.mark.parametrize(
    ("scan", "error_part"),
    [
        ("]C100106141412345678909", "check digit"),  # wrong check digit
        ("]C1017", "pattern"),  # too short
        ("]C10180614141123458" + "17251300", "pattern"),  # month 13
        ("]E05901234123458", "not a valid GTIN"),
    ],
)
def test_broken_gs1_data_keeps_the_data_and_says_why(scan: str, error_part: str) -> None:
    barcode = parse_barcode(scan)
    assert barcode.gs1 is None and barcode.uri is None
    assert barcode.error is not None and error_part.lower() in barcode.error.lower()
    assert barcode.data == scan[3:]


def test_sscc_label_and_sscc96_tag_give_the_same_uri() -> None:
    tag = sscc96("0614141", "1234567890")
    label = parse_barcode("]C100106141412345678908")
    assert label.uri == epc_uri(tag) == "urn:epc:id:sscc:0614141.1234567890"


def test_sgtin_label_and_sgtin96_tag_give_the_same_uri() -> None:
    tag = sgtin96("0614141", "812345", 6789)
    label = parse_barcode("]d2018061414112345821" + "6789")
    assert label.uri == epc_uri(tag)


@pytest.mark.parametrize(
    ("lengths", "default", "uri"),
    [
        ({}, 7, "urn:epc:id:sscc:0614141.1234567890"),  # biip knows 0614141 is 7 digits
        ({"0614141": 9}, 7, "urn:epc:id:sscc:061414123.14567890"),  # configured wins
        ({"06": 8, "0614": 10}, 7, "urn:epc:id:sscc:0614141234.1567890"),  # longest key wins
    ],
)
def test_company_prefix_length_is_configurable(lengths: dict[str, int], default: int, uri: str) -> None:
    assert parse_barcode("]C100106141412345678908", CompanyPrefixes(lengths, default)).uri == uri


def with_check_digit(digits: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return digits + str((10 - total % 10) % 10)


def test_unknown_prefix_uses_the_default_or_gives_no_uri() -> None:
    # 2xx prefixes are restricted circulation numbers: biip knows no company prefix there
    scan = "]C100" + with_check_digit("02012345678901234")
    assert parse_barcode(scan).gs1 is not None
    assert parse_barcode(scan, CompanyPrefixes({}, None)).uri is None
    assert parse_barcode(scan, CompanyPrefixes({}, 8)).uri == "urn:epc:id:sscc:20123456.078901234"


def test_split_aim() -> None:
    assert split_aim("]C1001") == ("]C1", "001")
    assert split_aim("]x") == (None, "]x")
    assert split_aim("plain") == (None, "plain")
