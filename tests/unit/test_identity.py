"""EPC hex -> GS1 pure identity URI, URI patterns and the identity cache.

Where the expected values come from:

- ``TDS_EXAMPLES`` are the worked examples of GS1 EPC Tag Data Standard Appendix E ("Encoding examples",
  TDS 1.9 onwards), as transcribed with their known errata in the test suites of dannyhaak/TagDataTranslation
  (``Sgtin96_Standard`` ...) and pvanhaastrecht's ``epc_examples.c``. Errata: the SGTIN-198 pure identity is
  printed with item reference 812345 where the binary and tag URI say 712345; the GIAI-202 hex is printed with
  one zero too many; the GSRN-96 hex is printed with filter 0 while its tag URI says 3 (both are kept below:
  the filter is not part of the pure identity).
- Other expected values are computed by hand from the TDS section 14 bit layouts (header, filter, partition,
  company prefix, reference, serial) with ``_pack``, which is itself checked against the TDS examples; the
  field limits (reserved bits, digits per partition) are those of the GS1 Tag Data Translation 2.0 files.

epcpy 0.1.8 was evaluated as the decoder and not used. It accepts encodings the standard forbids (non-zero
reserved bits in SSCC-96 / GSRN-96 / GSRNP-96, a non-zero 1-bit location reference or 4-bit asset type
under partition 0, a CPI-96 part reference longer than its digits); it fails on valid 7-bit string fields
whose text starts with ``/``, ``<``, ``>`` or ``?`` followed by more characters (ConvertException), and raises
a bare ValueError for some, e.g. an SGTIN-198 serial ``&<X``; and it decodes SGTIN-96 about five times
slower. ``test_epcpy_agrees_on_the_worked_examples`` cross-checks it where it is installed.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core import identity
from gateway.core.identity import IdentityCache, UriPattern, epc_uri, is_uri_pattern
from simulators.llrp.epc import sgtin96, sscc96


def _pack(*fields: tuple[int, int], hex_digits: int | None = None) -> str:
    """Concatenate (value, bit width) fields, most significant first, as uppercase hex; zero bits are
    appended up to ``hex_digits`` digits (default: the next whole hex digit)."""
    value = 0
    bits = 0
    for field, width in fields:
        assert 0 <= field < 1 << width, (field, width)
        value = (value << width) | field
        bits += width
    digits = hex_digits if hex_digits is not None else -(-bits // 4)
    return f"{value << (digits * 4 - bits):0{digits}X}"


def _chars(text: str, width: int) -> tuple[int, int]:
    """A TDS 7-bit "String" field: the characters, then zero bits up to ``width``."""
    value = 0
    for char in text:
        value = (value << 7) | ord(char)
    return value << (width - 7 * len(text)), width


TDS_EXAMPLES = [
    # (scheme, hex, pure identity URI): TDS Appendix E
    ("SGTIN-96", "3074257BF7194E4000001A85", "urn:epc:id:sgtin:0614141.812345.6789"),
    (
        "SGTIN-198",
        "3674257BF6B7A659B2C2BF1000000000000000000000000000",
        "urn:epc:id:sgtin:0614141.712345.32a%2Fb",
    ),
    ("SSCC-96", "3174257BF4499602D2000000", "urn:epc:id:sscc:0614141.1234567890"),
    ("SGLN-96", "3274257BF46072000000162E", "urn:epc:id:sgln:0614141.12345.5678"),
    (
        "SGLN-195",
        "3974257BF46072CD9615F8800000000000000000000000000",
        "urn:epc:id:sgln:0614141.12345.32a%2Fb",
    ),
    ("GRAI-96", "3374257BF40C0E400000162E", "urn:epc:id:grai:0614141.12345.5678"),
    ("GRAI-170", "3774257BF40C0E59B2C2BF100000000000000000000", "urn:epc:id:grai:0614141.12345.32a%2Fb"),
    ("GIAI-96", "3474257BF40000000000162E", "urn:epc:id:giai:0614141.5678"),
    ("GIAI-202", "3874257BF59B2C2BF1000000000000000000000000000000000", "urn:epc:id:giai:0614141.32a%2Fb"),
    ("GID-96", "350007AB70425D4000000586", "urn:epc:id:gid:31415.271828.1414"),
    ("GSRN-96", "2D74257BF4499602D2000000", "urn:epc:id:gsrn:0614141.1234567890"),
    ("GSRN-96 as printed", "2D14257BF4499602D2000000", "urn:epc:id:gsrn:0614141.1234567890"),
    ("GSRNP-96", "2E74257BF4499602D2000000", "urn:epc:id:gsrnp:0614141.1234567890"),
    ("GDTI-96", "2C74257BF46072000000162E", "urn:epc:id:gdti:0614141.12345.5678"),
    (
        "GDTI-174",
        "3E74F4E4E7039B061438997367D0C18B266D1AB66EE0",
        "urn:epc:id:gdti:4012345.98765.ABCDefgh012345678",
    ),
    ("SGCN-96", "3F74F4E4E612640000019907", "urn:epc:id:sgcn:4012345.67890.04711"),
    ("CPI-96", "3C74257BF400C0E680003039", "urn:epc:id:cpi:0614141.98765.12345"),
]


@pytest.mark.parametrize(("scheme", "epc", "uri"), TDS_EXAMPLES, ids=[e[0] for e in TDS_EXAMPLES])
def test_tds_worked_examples(scheme: str, epc: str, uri: str) -> None:
    assert epc_uri(epc) == uri


@pytest.mark.parametrize(("scheme", "epc", "uri"), TDS_EXAMPLES, ids=[e[0] for e in TDS_EXAMPLES])
def test_word_aligned_reads_of_the_worked_examples(scheme: str, epc: str, uri: str) -> None:
    """A reader reports whole 16-bit words (a 198-bit SGTIN comes as 208 bits), lower case from sllurp."""
    words = -(-len(epc) // 4) * 4
    padded = epc.ljust(words, "0")
    assert epc_uri(padded) == uri
    assert epc_uri(padded.lower()) == uri


def test_pack_reproduces_the_tds_examples() -> None:
    """The helper that builds the hand-computed cases below, checked against TDS Appendix E."""
    assert _pack((0x30, 8), (3, 3), (5, 3), (614141, 24), (812345, 20), (6789, 38)) == TDS_EXAMPLES[0][1]
    assert _pack((0x36, 8), (3, 3), (5, 3), (614141, 24), (712345, 20), _chars("32a/b", 140)) == TDS_EXAMPLES[1][1]
    assert _pack((0x31, 8), (3, 3), (5, 3), (614141, 24), (1234567890, 34), (0, 24)) == TDS_EXAMPLES[2][1]


HAND_COMPUTED = [
    # SGTIN-96, filter 1, as the simulator and field notes write it.
    ("3034257BF7194E4000001A85", "urn:epc:id:sgtin:0614141.812345.6789"),
    # GID-96: manager (28 bits = 7 hex digits), object class (24 bits = 6), serial (36 bits = 9).
    (_pack((0x35, 8), (1, 28), (2, 24), (3, 36)), "urn:epc:id:gid:1.2.3"),
    ("350000010000020000000003", "urn:epc:id:gid:16.32.3"),
    # SSCC-96 of the field notes' SSCC 106141411234567897: extension digit 1 + serial reference 123456789.
    (
        _pack((0x31, 8), (0, 3), (5, 3), (614141, 24), (1123456789, 34), (0, 24)),
        "urn:epc:id:sscc:0614141.1123456789",
    ),
    # Partition 0, a 12-digit company prefix: the SGLN location reference and GRAI asset type have no digits.
    (
        _pack((0x32, 8), (0, 3), (0, 3), (61411123456, 40), (0, 1), (5678, 41)),
        "urn:epc:id:sgln:061411123456..5678",
    ),
    (
        _pack((0x33, 8), (0, 3), (0, 3), (61411123456, 40), (0, 4), (5678, 38)),
        "urn:epc:id:grai:061411123456..5678",
    ),
    # Partition 6, a 6-digit company prefix: 7-digit item reference (indicator + 6), leading zeros kept.
    (
        _pack((0x30, 8), (1, 3), (6, 3), (12345, 20), (42, 24), (0, 38)),
        "urn:epc:id:sgtin:012345.0000042.0",
    ),
    # SGLN-96 without an extension: the extension component is 0.
    (
        _pack((0x32, 8), (0, 3), (5, 3), (614141, 24), (12345, 17), (0, 41)),
        "urn:epc:id:sgln:0614141.12345.0",
    ),
    # GIAI-202 with every character that a URI escapes.
    (
        _pack((0x38, 8), (0, 3), (5, 3), (614141, 24), _chars('"%&/<>?', 164)),
        "urn:epc:id:giai:0614141.%22%25%26%2F%3C%3E%3F",
    ),
    # SGTIN-198 with a full 20-character serial (no terminating zero character).
    (
        _pack((0x36, 8), (0, 3), (5, 3), (614141, 24), (812345, 20), _chars("ABCDEFGHIJKLMNOPQRS.", 140)),
        "urn:epc:id:sgtin:0614141.812345.ABCDEFGHIJKLMNOPQRS.",
    ),
    # SGCN-96: "Numeric String" serial 00 is stored as 100.
    (
        _pack((0x3F, 8), (0, 3), (5, 3), (4012345, 24), (67890, 17), (100, 41)),
        "urn:epc:id:sgcn:4012345.67890.00",
    ),
]


@pytest.mark.parametrize(("epc", "uri"), HAND_COMPUTED)
def test_hand_computed_encodings(epc: str, uri: str) -> None:
    assert epc_uri(epc) == uri


_SGTIN_HEAD = ((0x30, 8), (1, 3), (5, 3))
NOT_GS1 = [
    ("Impinj TID-like, header E2", "E2801160600002084D7E2E12"),
    ("all zeros", "000000000000000000000000"),
    ("all ones", "F" * 24),
    ("empty", ""),
    ("odd length", "3074257BF7194E4000001A8"),
    ("one digit too many", "3074257BF7194E4000001A850"),
    ("128 bits for a 96-bit scheme", "3074257BF7194E4000001A8500000000"),
    ("non-hex", "3074257BF7194E4000001A8G"),
    ("0x prefix", "0x3074257BF7194E4000001A85"),
    ("spaces", "3074 257B F719 4E40 0000 1A85"),
    ("trailing newline", "3074257BF7194E4000001A85\n"),
    ("underscores", "3074_257B_F719_4E40_0000_1A85"),
    ("non-ASCII digits", "\uff13074257BF7194E4000001A85"),
    ("SGTIN-198 one digit short of the word-aligned length", "3674257BF6B7A659B2C2BF1" + "0" * 28),
    ("SGTIN-96 header, 198-bit length", "3074257BF7194E4000001A85" + "0" * 26),
    ("partition 7", _pack((0x30, 8), (1, 3), (7, 3), (0, 88))),
    ("company prefix beyond 7 digits", _pack(*_SGTIN_HEAD, (10_000_000, 24), (1, 20), (1, 38))),
    ("item reference beyond 6 digits", _pack(*_SGTIN_HEAD, (614141, 24), (1_000_000, 20), (1, 38))),
    ("SSCC-96 reserved bits set", _pack((0x31, 8), (0, 3), (5, 3), (614141, 24), (1, 34), (1, 24))),
    ("GSRN-96 reserved bits set", _pack((0x2D, 8), (0, 3), (5, 3), (614141, 24), (1, 34), (1, 24))),
    ("SGLN-96 partition 0 location bit set", _pack((0x32, 8), (0, 3), (0, 3), (1, 40), (1, 1), (0, 41))),
    ("GRAI-96 partition 0 asset type set", _pack((0x33, 8), (0, 3), (0, 3), (1, 40), (3, 4), (0, 38))),
    ("CPI-96 part reference beyond 3 digits", _pack((0x3C, 8), (0, 3), (0, 3), (1, 40), (1000, 11), (0, 31))),
    ("SGCN-96 serial without its leading 1", _pack((0x3F, 8), (0, 3), (5, 3), (1, 24), (1, 17), (200, 41))),
    (
        "SGTIN-198 empty serial",
        _pack((0x36, 8), (0, 3), (5, 3), (614141, 24), (812345, 20), (0, 140)),
    ),
    (
        "SGTIN-198 character outside TDS Table A-1 (#)",
        _pack((0x36, 8), (0, 3), (5, 3), (614141, 24), (812345, 20), _chars("a#b", 140)),
    ),
    (
        "SGTIN-198 bits after the terminating zero character",
        _pack((0x36, 8), (0, 3), (5, 3), (614141, 24), (812345, 20), _chars("ab\x00c", 140)),
    ),
    (
        "GIAI-202 longer than 30 - 12 = 18 characters",
        _pack((0x38, 8), (0, 3), (0, 3), (61411123456, 40), _chars("A" * 19, 148)),
    ),
    ("SGTIN-64 (withdrawn)", "8074257BF7194E40"),
    ("USDOD-96, not GS1", "2F320434147455900000162E"),
]


@pytest.mark.parametrize(("why", "epc"), NOT_GS1, ids=[n[0] for n in NOT_GS1])
def test_not_gs1_encoded_is_none(why: str, epc: str) -> None:
    assert epc_uri(epc) is None


@pytest.mark.parametrize("value", [None, 42, b"3074257BF7194E4000001A85", ["30"], 3.0])
def test_non_strings_are_none(value: object) -> None:
    assert epc_uri(value) is None  # type: ignore[arg-type]


def test_the_simulators_tds_examples_decode() -> None:
    assert epc_uri(sgtin96("0614141", "812345", 6789, filter_value=3)) == "urn:epc:id:sgtin:0614141.812345.6789"


_HEX_TEXT = st.text(alphabet="0123456789ABCDEFabcdef", max_size=80)
_GS1_HEADERS = st.sampled_from([0x2C, 0x2D, 0x2E, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39])


@settings(max_examples=500, deadline=None)
@given(st.one_of(_HEX_TEXT, st.text(max_size=80), st.binary(max_size=40).map(bytes.hex)))
def test_epc_uri_never_raises_on_text(text: str) -> None:
    uri = epc_uri(text)
    assert uri is None or uri.startswith("urn:epc:id:")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_epc_uri_never_raises_on_bytes(data: bytes) -> None:
    assert epc_uri(data) is None  # type: ignore[arg-type]
    uri = epc_uri(data.hex().upper())
    assert uri is None or uri.startswith("urn:epc:id:")


@settings(max_examples=500, deadline=None)
@given(_GS1_HEADERS, st.integers(min_value=0, max_value=(1 << 200) - 1), st.sampled_from([24, 44, 49, 50, 51, 52]))
def test_epc_uri_never_raises_on_gs1_headers(header: int, body: int, digits: int) -> None:
    """Random bits behind a real header reach every decoder's validation paths."""
    epc = f"{header:02X}" + f"{body:0{digits - 2}X}"[-(digits - 2) :]
    uri = epc_uri(epc)
    assert uri is None or uri.startswith("urn:epc:id:")


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=6, max_value=12).flatmap(
        lambda n: st.tuples(
            st.text(alphabet="0123456789", min_size=n, max_size=n),
            st.text(alphabet="0123456789", min_size=13 - n, max_size=13 - n),
        )
    ),
    st.integers(min_value=0, max_value=(1 << 38) - 1),
    st.integers(min_value=0, max_value=7),
)
def test_sgtin96_round_trips_through_the_simulator_encoder(
    keys: tuple[str, str], serial: int, filter_value: int
) -> None:
    company, item = keys
    epc = sgtin96(company, item, serial, filter_value=filter_value)
    assert epc_uri(epc) == f"urn:epc:id:sgtin:{company}.{item}.{serial}"


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=6, max_value=12).flatmap(
        lambda n: st.tuples(
            st.text(alphabet="0123456789", min_size=n, max_size=n),
            st.text(alphabet="0123456789", min_size=17 - n, max_size=17 - n),
        )
    )
)
def test_sscc96_round_trips_through_the_simulator_encoder(keys: tuple[str, str]) -> None:
    company, serial_reference = keys
    assert epc_uri(sscc96(company, serial_reference)) == f"urn:epc:id:sscc:{company}.{serial_reference}"


_CHARSET_82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_ESCAPES = {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_CHARSET_82, min_size=1, max_size=20), st.integers(min_value=0, max_value=7))
def test_sgtin198_serials_round_trip(serial: str, filter_value: int) -> None:
    epc = _pack((0x36, 8), (filter_value, 3), (5, 3), (614141, 24), (712345, 20), _chars(serial, 140), hex_digits=52)
    escaped = "".join(_ESCAPES.get(c, c) for c in serial)
    assert epc_uri(epc) == f"urn:epc:id:sgtin:0614141.712345.{escaped}"


def test_epcpy_agrees_on_the_worked_examples() -> None:
    import epcpy  # in the test extra

    for _scheme, epc, uri in TDS_EXAMPLES:
        assert epcpy.hex_to_tag_encodable(epc).epc_uri == uri


# --- URI patterns ---------------------------------------------------------------------------------------

SSCC = "urn:epc:id:sscc:0614141.1234567890"
SGTIN = "urn:epc:id:sgtin:0614141.812345.6789"


@pytest.mark.parametrize(
    ("pattern", "uri", "expected"),
    [
        ("urn:epc:id:sscc:0614141.*", SSCC, True),
        ("urn:epc:id:sscc:0614141.*", "urn:epc:id:sscc:0614142.1234567890", False),
        ("urn:epc:id:sscc:0614141.*", "urn:epc:id:sscc:06141410.123456789", False),
        ("urn:epc:id:sscc:0614141.*", SGTIN, False),
        ("urn:epc:id:sscc:*.*", SSCC, True),
        ("urn:epc:id:sgtin:0614141.812345.*", SGTIN, True),
        ("urn:epc:id:sgtin:0614141.812345.*", "urn:epc:id:sgtin:0614141.812346.6789", False),
        ("urn:epc:id:sgtin:0614141.812345.*", "urn:epc:id:sgtin:0614141.8123450.6789", False),
        ("urn:epc:id:sgtin:0614141.*.*", SGTIN, True),
        ("urn:epc:id:sgtin:0614141.*.*", "urn:epc:id:sgtin:061414.1812345.6789", False),
        ("urn:epc:id:sgtin:*.*.*", SGTIN, True),
        ("urn:epc:id:sgtin:*.*.*", SSCC, False),
        ("urn:epc:idpat:sgtin:0614141.812345.*", SGTIN, True),
        ("urn:epc:idpat:sgtin:0614141.*.*", "urn:epc:id:sgtin:0614141.712345.32a%2Fb", True),
        ("urn:epc:id:sgtin:0614141.812345.6789", SGTIN, True),
        ("urn:epc:id:sgtin:0614141.812345.6789", "urn:epc:id:sgtin:0614141.812345.67890", False),
        ("urn:epc:id:sgtin:0614141.712345.a.b", "urn:epc:id:sgtin:0614141.712345.a.b", True),
        ("urn:epc:id:sgln:061411123456..*", "urn:epc:id:sgln:061411123456..5678", True),
        ("URN:EPC:ID:SSCC:0614141.*", SSCC, True),
        ("urn:epc:id:sscc:0614141.*", None, False),
        ("urn:epc:id:sscc:0614141.*", "", False),
    ],
)
def test_uri_pattern_matches(pattern: str, uri: str | None, expected: bool) -> None:
    assert UriPattern(pattern).matches(uri) is expected


def test_uri_pattern_matches_decoded_tags() -> None:
    pattern = UriPattern("urn:epc:id:sgtin:0614141.812345.*")
    assert pattern.matches(epc_uri("3074257BF7194E4000001A85"))
    assert not pattern.matches(epc_uri("E2801160600002084D7E2E12"))


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "expected it to start with"),
        ("3074257B", "expected it to start with"),
        ("urn:epc:tag:sgtin-96:3.0614141.812345.*", "tag URIs"),
        ("urn:epc:pat:sgtin-96:3.0614141.812345.*", "expected it to start with"),
        ("urn:epc:id:sgtinn:0614141.*.*", "unknown scheme 'sgtinn'"),
        ("urn:epc:id:sgtin", "unknown scheme"),
        ("urn:epc:id:sgtin:0614141.*", "3 components"),
        ("urn:epc:id:sscc:0614141", "2 components"),
        ("urn:epc:id:sscc:0614141.*.*", "2 components"),
        ("urn:epc:id:sgtin:0614*.*.*", "must stand alone"),
        ("urn:epc:id:sgtin:0614141.812345.67*", "must stand alone"),
        ("urn:epc:id:sgtin:*.812345.*", "must come last"),
        ("urn:epc:id:sgtin:0614141.*.6789", "must come last"),
        ("urn:epc:id:sgtin:0614141 .*.*", "no spaces"),
    ],
)
def test_malformed_uri_patterns_raise(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        UriPattern(pattern)
    assert repr(pattern) in str(raised.value)


def test_uri_patterns_compare_by_meaning() -> None:
    assert UriPattern("urn:epc:idpat:sscc:0614141.*") == UriPattern("urn:epc:id:sscc:0614141.*")
    assert len({UriPattern("urn:epc:idpat:sscc:0614141.*"), UriPattern("urn:epc:id:sscc:0614141.*")}) == 1
    assert UriPattern("urn:epc:id:sscc:0614141.*") != UriPattern("urn:epc:id:sscc:*.*")
    assert "0614141" in repr(UriPattern("urn:epc:id:sscc:0614141.*"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("urn:epc:id:sscc:0614141.*", True),
        ("urn:epc:idpat:sgtin:0614141.*.*", True),
        ("URN:EPC:id:sscc:0614141.*", True),
        ("3074257B", False),
        ("E280", False),
        ("", False),
        ("urn:ep", False),
    ],
)
def test_is_uri_pattern(text: str, expected: bool) -> None:
    assert is_uri_pattern(text) is expected


# --- cache ----------------------------------------------------------------------------------------------


def test_cache_returns_what_the_function_returns() -> None:
    cache = IdentityCache()
    epcs = [e for _s, e, _u in TDS_EXAMPLES] + [e for _w, e in NOT_GS1]
    for _ in range(2):
        for epc in epcs:
            assert cache.uri(epc) == epc_uri(epc)
    assert len(cache) == len(set(epcs))


def test_cache_decodes_each_tag_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = identity.epc_uri

    def counting(epc: str) -> str | None:
        calls.append(epc)
        return real(epc)

    monkeypatch.setattr(identity, "epc_uri", counting)
    cache = IdentityCache()
    for _ in range(5):
        assert cache.uri("3074257BF7194E4000001A85") == "urn:epc:id:sgtin:0614141.812345.6789"
        assert cache.uri("E2801160600002084D7E2E12") is None
    assert calls == ["3074257BF7194E4000001A85", "E2801160600002084D7E2E12"]


def test_cache_stays_bounded_and_correct() -> None:
    cache = IdentityCache(max_entries=3)
    epcs = [sgtin96("0614141", "812345", serial) for serial in range(10)]
    for epc in epcs:
        cache.uri(epc)
        assert len(cache) <= 3
    assert len(cache) == 3
    for serial, epc in enumerate(epcs):
        assert cache.uri(epc) == f"urn:epc:id:sgtin:0614141.812345.{serial}"
        assert len(cache) == 3


def test_cache_default_size_and_bad_size() -> None:
    assert IdentityCache().max_entries == 100_000
    with pytest.raises(ValueError, match="max_entries must be at least 1, got 0"):
        IdentityCache(max_entries=0)
