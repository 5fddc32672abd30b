"""The driver's LLRP bytes: the incremental splitter at every split position, and the RO_ACCESS_REPORT
fast path against sllurp's decoder on randomized reports."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.llrp import wire
from simulators.llrp import frames as f


def sample_stream() -> bytes:
    enc = f.TagReportEncoder(f.ALL_FIELDS, rospec_id=1)
    reports = [enc.encode(enc.prefix(bytes([i]) * 12), 1 + i % 4, -40 - i, 10**15 + i) for i in range(3)]
    return b"".join(
        [
            f.connection_attempt_event(1, f.CONN_SUCCESS, 5),
            f.keepalive(2),
            f.ro_access_report(3, reports),
            f.response(f.SET_READER_CONFIG_RESPONSE, 4),
            f.ro_access_report(5, reports[:1]),
        ]
    )


def test_splitter_gives_the_same_frames_whatever_the_split() -> None:
    stream = sample_stream()
    whole = wire.FrameSplitter().feed(stream)
    assert len(whole) == 5 and b"".join(whole) == stream
    for cut in range(len(stream) + 1):
        splitter = wire.FrameSplitter()
        got = splitter.feed(stream[:cut]) + splitter.feed(stream[cut:])
        assert got == whole, cut
        assert splitter.buffered == 0


def test_splitter_byte_by_byte_and_two_cuts() -> None:
    stream = sample_stream()
    splitter = wire.FrameSplitter()
    got = [frame for i in range(len(stream)) for frame in splitter.feed(stream[i : i + 1])]
    assert b"".join(got) == stream
    for a in range(0, len(stream), 7):
        for b in range(a, len(stream), 11):
            s = wire.FrameSplitter()
            assert b"".join(s.feed(stream[:a]) + s.feed(stream[a:b]) + s.feed(stream[b:])) == stream


def test_splitter_refuses_a_broken_header() -> None:
    splitter = wire.FrameSplitter()
    with pytest.raises(wire.FrameError):
        splitter.feed(struct.pack("!HII", (7 << 10) | 61, 3, 0))
    with pytest.raises(wire.FrameError):
        splitter.feed(f.keepalive(1))  # and stays broken


FIELDS = st.builds(
    f.ContentSelector,
    *[st.booleans() for _ in range(10)],
)


@st.composite
def reports(draw: st.DrawFn) -> bytes:
    selector = draw(FIELDS)
    enc = f.TagReportEncoder(selector, rospec_id=draw(st.integers(1, 2**32 - 1)))
    tags = []
    for _ in range(draw(st.integers(0, 20))):
        epc = draw(st.binary(min_size=2, max_size=32).filter(lambda b: len(b) % 2 == 0))
        tag = enc.encode(
            enc.prefix(epc),
            draw(st.integers(0, 65535)),
            draw(st.integers(-128, 127)),
            draw(st.integers(0, 2**64 - 1)),
            draw(st.integers(0, 65535)),
        )
        if draw(st.booleans()):  # a vendor Custom parameter inside TagReportData
            custom = f.tlv(f.P_CUSTOM, struct.pack("!II", 4242, 7), draw(st.binary(max_size=8)))
            tag = struct.pack("!HH", f.P_TAG_REPORT_DATA, len(tag) + len(custom)) + tag[4:] + custom
        tags.append(tag)
    return f.ro_access_report(draw(st.integers(0, 2**32 - 1)), tags)


@settings(max_examples=300, deadline=None)
@given(reports())
def test_fast_path_matches_sllurp(frame: bytes) -> None:
    assert wire.decode_tag_reports(frame) == wire.tag_reports_via_sllurp(frame)


def test_fast_path_skips_unknown_top_level_parameters_and_refuses_unknown_tv() -> None:
    enc = f.TagReportEncoder(f.ContentSelector(antenna_id=True, peak_rssi=True))
    tag = enc.encode(enc.prefix(bytes(12)), 3, -61, 0)
    custom = f.tlv(f.P_CUSTOM, struct.pack("!II", 25882, 1), b"xyz")
    frame = f.ro_access_report(1, [custom, tag, custom])
    (got,) = wire.decode_tag_reports(frame)
    assert got == wire.TagReport("0" * 24, 3, -61, None, None, None)
    unknown_tv = struct.pack("!HH", f.P_TAG_REPORT_DATA, 4 + 13 + 3) + bytes([0x80 | 13]) + bytes(12) + b"\xfe\x00\x00"
    with pytest.raises(wire.UndecodableReport):
        wire.decode_tag_reports(f.ro_access_report(2, [unknown_tv]))


def test_gpo_write_data_is_encoded_although_sllurp_has_no_encoder() -> None:
    frame = wire.encode(
        "SET_READER_CONFIG",
        9,
        {"ResetToFactoryDefaults": False, "GPOWriteData": [{"GPOPortNumber": 2, "GPOData": True}]},
    )
    params = list(f.iter_params(f.FrameParser().feed(frame)[0].body, 1))
    assert [(p.type, p.value) for p in params] == [(f.P_GPO_WRITE_DATA, b"\x00\x02\x80")]
