"""Scanner framing: whole scans out of a byte stream split anywhere, with noise between scans."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.scanners.framing import ScanFramer, terminator_bytes

SCANS = ["]C100106141411234567897", "]d2010614141123458310ABC\x1d216789", "]E05901234123457", "HELLO wörld"]


def stream(terminator: bytes) -> bytes:
    return b"".join(s.encode() + terminator for s in SCANS)


def feed_split(framer: ScanFramer, data: bytes, *cuts: int) -> list[str]:
    out: list[str] = []
    start = 0
    for cut in (*cuts, len(data)):
        out += framer.feed(data[start:cut])
        start = cut
    return out


@pytest.mark.parametrize("name", ["CR", "LF", "CRLF", "\\x03", "<END>"])
def test_every_split_position_gives_the_same_scans(name: str) -> None:
    terminator = terminator_bytes(name)
    data = stream(terminator)
    for cut in range(len(data) + 1):
        framer = ScanFramer(terminator)
        assert feed_split(framer, data, cut) == SCANS, f"split at byte {cut}"
        assert framer.scans == len(SCANS) and not framer.dropped


def test_byte_by_byte_and_every_pair_of_cuts() -> None:
    data = stream(b"\r\n")
    framer = ScanFramer(b"\r\n")
    assert [s for b in data for s in framer.feed(bytes([b]))] == SCANS
    for a in range(0, len(data), 3):
        for b in range(a, len(data), 5):
            assert feed_split(ScanFramer(b"\r\n"), data, a, b) == SCANS


NOISE = [
    (b"\x00\x01\x02\xff\xfe\x80garbage", "invalid_utf8"),
    (b"\x00\x01\x02\x03abc", "binary"),
    (b"\x1b[31mansi", "binary"),
    (b"\xc3\x28\xa0\xa1", "invalid_utf8"),
    (b"X" * 5000, "overlong"),
]


@pytest.mark.parametrize(("noise", "reason"), NOISE)
def test_noise_between_scans_is_counted_and_dropped_at_every_split(noise: bytes, reason: str) -> None:
    terminator = b"\r"
    data = SCANS[0].encode() + terminator + noise + terminator + SCANS[1].encode() + terminator
    for cut in range(0, len(data) + 1, 1 if len(data) < 300 else 97):
        framer = ScanFramer(terminator, max_length=256)
        assert feed_split(framer, data, cut) == SCANS[:2], f"split at {cut}"
        assert framer.dropped == {reason: 1}


def test_overlong_line_without_terminator_for_a_long_time_stays_bounded() -> None:
    framer = ScanFramer(b"\r\n", max_length=64)
    for _ in range(1000):
        assert framer.feed(b"Z" * 1000) == []
        assert len(framer._buffer) <= 64 + 2
    assert framer.feed(b"\r\nOK\r\n") == ["OK"]
    assert framer.dropped == {"overlong": 1}


def test_overlong_ending_in_half_a_crlf_then_the_next_scan() -> None:
    framer = ScanFramer(b"\r\n", max_length=8)
    assert framer.feed(b"A" * 20 + b"\r") == []
    assert framer.feed(b"\nSCAN\r\n") == ["SCAN"]


def test_prefix_suffix_and_stray_line_ends_are_stripped() -> None:
    framer = ScanFramer(b"\r", prefix=b"\x02", suffix=b"\x03")
    assert framer.feed(b"\x02ABC\x03\r\n\x02DEF\x03\r") == ["ABC", "DEF"]
    assert framer.feed(b"\r\r\n") == []  # empty lines: nothing, and not noise
    assert not framer.dropped


def test_decode_returns_zero_when_it_needs_more() -> None:
    framer = ScanFramer(b"\r\n")
    assert framer.decode(b"ABC\r") == (0, None)
    assert framer.decode(b"ABC\r\nDEF") == (5, "ABC")


@given(st.lists(st.binary(max_size=40), max_size=30))
def test_arbitrary_bytes_never_raise_and_scans_are_clean(chunks: list[bytes]) -> None:
    framer = ScanFramer(b"\r", max_length=32)
    for chunk in chunks:
        for scan in framer.feed(chunk):
            assert scan and len(scan.encode()) <= 32
            assert all(ch >= " " or ch in "\x1d\x1e\x04" for ch in scan)
