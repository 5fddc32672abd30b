"""Hostile bytes from a reader against the driver's framing and decoding (``drivers/llrp/wire.py``).

Whatever a reader sends, the splitter and the decoders raise only the driver's own errors, which the
session turns into a log line and a reconnect: ``wire.FrameError`` (a broken stream, or a whole message
that cannot be decoded: ``wire.UndecodableMessage``) and ``wire.UndecodableReport`` (the fast path gives
the report to sllurp's decoder). Work is bounded per byte, and memory by the message size limit.

Frames are built here with ``struct`` (not with the simulator's codec), so these tests hold on their own;
the last tests take their parameters from pyllrp, an independent encoder: EPC-96 and EPCData of 128 and
496 bits in one report, Impinj Custom parameters before and after the standard ones.
"""

from __future__ import annotations

import itertools
import struct
import time
import tracemalloc
from typing import Any

import bitstring
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyllrp import pyllrp as P

from drivers.llrp import wire

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def message(msg_type: int, msg_id: int, body: bytes = b"") -> bytes:
    return struct.pack("!HII", (1 << 10) | msg_type, 10 + len(body), msg_id) + body


def tlv(ptype: int, body: bytes) -> bytes:
    return struct.pack("!HH", ptype, 4 + len(body)) + body


def tv(ptype: int, fmt: str, value: int) -> bytes:
    return bytes([0x80 | ptype]) + struct.pack("!" + fmt, value)


def custom(vendor: int = 25882, subtype: int = 1, data: bytes = b"") -> bytes:
    return tlv(1023, struct.pack("!II", vendor, subtype) + data)


def epc_param(epc: bytes, bits: int | None = None) -> bytes:
    """EPC-96 as TV 13 when 12 bytes and no bit count is forced, else EPCData (TLV 241)."""
    if bits is None and len(epc) == 12:
        return bytes([0x80 | 13]) + epc
    return tlv(241, struct.pack("!H", len(epc) * 8 if bits is None else bits) + epc)


def keepalive(msg_id: int) -> bytes:
    return message(wire.KEEPALIVE, msg_id)


# ---- strategies ------------------------------------------------------------------------------------------

_TV_FIELDS = [(1, "H"), (6, "b"), (2, "Q"), (4, "Q"), (3, "Q"), (5, "Q"), (8, "H"), (9, "I"), (14, "H"), (7, "H")]


@st.composite
def tag_report_data(draw: st.DrawFn) -> bytes:
    size = draw(st.sampled_from([12, 12, 12, 2, 16, 62]))
    epc = draw(st.binary(min_size=size, max_size=size))
    parts = [epc_param(epc)]
    for ptype, fmt in draw(st.lists(st.sampled_from(_TV_FIELDS), max_size=6, unique=True)):
        lo, hi = (-128, 127) if fmt == "b" else (0, 2 ** (8 * struct.calcsize(fmt)) - 1)
        parts.append(tv(ptype, fmt, draw(st.integers(lo, hi))))
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), custom(data=draw(st.binary(max_size=6))))
    return tlv(240, b"".join(parts))


@st.composite
def ro_access_report(draw: st.DrawFn) -> bytes:
    body = draw(st.lists(tag_report_data(), max_size=6))
    if draw(st.booleans()):
        body.insert(draw(st.integers(0, len(body))), custom())
    return message(wire.RO_ACCESS_REPORT, draw(st.integers(0, 2**32 - 1)), b"".join(body))


@st.composite
def mutated(draw: st.DrawFn, frames: st.SearchStrategy[bytes]) -> bytes:
    """A valid frame with bytes changed, cut, inserted or a length field rewritten; the header stays
    consistent (as the splitter hands frames over), so the decoders see every kind of broken body."""
    data = bytearray(draw(frames))
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["flip", "cut", "insert", "u16"]))
        if how == "flip" and len(data) > 10:
            data[draw(st.integers(10, len(data) - 1))] = draw(st.integers(0, 255))
        elif how == "cut" and len(data) > 10:
            del data[draw(st.integers(10, len(data) - 1)) :]
        elif how == "insert":
            at = draw(st.integers(10, len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif how == "u16" and len(data) >= 12:  # a parameter's type or length
            struct.pack_into("!H", data, draw(st.integers(10, len(data) - 2)), draw(st.integers(0, 65535)))
    struct.pack_into("!I", data, 2, len(data))
    return bytes(data)


_MESSAGE_TYPES = st.sampled_from(
    [
        wire.RO_ACCESS_REPORT,
        wire.READER_EVENT_NOTIFICATION,
        wire.ERROR_MESSAGE,
        wire.KEEPALIVE,
        11,
        13,
        30,
        34,
        36,
        1023,
        5,
        999,
    ]
)


@st.composite
def random_body(draw: st.DrawFn) -> bytes:
    return message(draw(_MESSAGE_TYPES), draw(st.integers(0, 2**32 - 1)), draw(st.binary(max_size=200)))


@st.composite
def unknown_parameters(draw: st.DrawFn) -> bytes:
    """A report whose TagReportData carries a TV or TLV type that no LLRP version defines."""
    tv_type = draw(st.integers(19, 127))
    unknown = bytes([0x80 | tv_type]) + draw(st.binary(max_size=4))
    if draw(st.booleans()):
        unknown = tlv(draw(st.integers(400, 1022)), draw(st.binary(max_size=8)))
    tag = tlv(240, epc_param(draw(st.binary(min_size=12, max_size=12))) + unknown)
    return message(wire.RO_ACCESS_REPORT, 1, tag)


HOSTILE = st.one_of(mutated(ro_access_report()), random_body(), unknown_parameters(), mutated(random_body()))


# ---- the splitter ----------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=8))
def test_splitter_on_random_bytes_raises_only_frame_error_and_keeps_the_byte_stream(
    stream: bytes, cuts: list[int]
) -> None:
    splitter = wire.FrameSplitter(max_size=256)
    got: list[bytes] = []
    broken = False
    edges = [0, *sorted(c for c in cuts if c <= len(stream)), len(stream)]
    for a, b in itertools.pairwise(edges):
        try:
            got += splitter.feed(stream[a:b])
        except wire.FrameError:
            broken = True
            break
        assert splitter.buffered <= 256
    joined = b"".join(got)
    assert stream.startswith(joined)
    for frame in got:
        assert struct.unpack_from("!I", frame, 2)[0] == len(frame) and (frame[0] >> 2) & 7 == 1
    if broken:
        assert splitter.buffered == 0
        with pytest.raises(wire.FrameError):
            splitter.feed(keepalive(1))  # and stays broken: the session must reconnect


@FUZZ
@given(st.lists(st.one_of(ro_access_report(), random_body(), st.just(keepalive(7))), max_size=8), st.data())
def test_splitter_gives_the_same_frames_whatever_the_chunks(frames: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    splitter = wire.FrameSplitter()
    got = [frame for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True) for frame in splitter.feed(stream[a:b])]
    assert got == frames
    assert splitter.buffered == 0


@pytest.mark.parametrize("length", [2**32 - 1, 2**31, wire.MAX_MESSAGE_SIZE + 1])
def test_a_huge_length_field_is_refused_at_once_with_the_limit_in_the_error(length: int) -> None:
    splitter = wire.FrameSplitter()
    header = struct.pack("!HII", (1 << 10) | wire.RO_ACCESS_REPORT, length, 9)
    with pytest.raises(wire.FrameError, match=r"bad LLRP header.*length \d+ above the limit of 16777216"):
        splitter.feed(header)  # no wait for the body, nothing buffered
    assert splitter.buffered == 0


def test_a_length_below_the_header_or_a_wrong_version_is_refused_with_the_reason() -> None:
    with pytest.raises(wire.FrameError, match=r"bad LLRP header.*length 3 below the 10-byte header"):
        wire.FrameSplitter().feed(struct.pack("!HII", (1 << 10) | 62, 3, 0))
    with pytest.raises(wire.FrameError, match=r"bad LLRP header.*version 7"):
        wire.FrameSplitter().feed(struct.pack("!HII", (7 << 10) | 62, 10, 0))


def test_memory_stays_below_the_limit_while_a_large_frame_trickles_in() -> None:
    splitter = wire.FrameSplitter(max_size=64 * 1024)
    frame = message(wire.RO_ACCESS_REPORT, 1, bytes(64 * 1024 - 10))
    for i in range(0, len(frame) - 1, 1000):
        assert splitter.feed(frame[i : min(i + 1000, len(frame) - 1)]) == []
        assert splitter.buffered < 64 * 1024
    assert splitter.feed(frame[-1:]) == [frame]
    assert splitter.buffered == 0


def test_a_flood_of_keepalives_costs_linear_time_whatever_the_chunks() -> None:
    flood = b"".join(keepalive(i) for i in range(100_000))  # 1 MB
    for chunk in (1, 7, 4096, 262144):
        splitter = wire.FrameSplitter()
        start = time.perf_counter()
        count = 0
        for i in range(0, len(flood) if chunk > 1 else 100_000, chunk):  # byte by byte: the first 100 kB
            count += len(splitter.feed(flood[i : i + chunk]))
        elapsed = time.perf_counter() - start
        assert count == (100_000 if chunk > 1 else 10_000)
        assert splitter.buffered == 0
        assert elapsed < 10, (chunk, elapsed)  # ~0.1-0.5 s here; quadratic buffering takes minutes


# ---- the decoders: the path a session takes for each frame ---------------------------------------------


def decode_like_a_session(frame: bytes) -> None:
    """What ``Session.dispatch`` does: the fast decoder, sllurp's on UndecodableReport; and sllurp for
    every other message. Only the driver's own errors may come out."""
    if wire.message_type(frame) == wire.RO_ACCESS_REPORT:
        try:
            wire.TagReadDecoder("portal").decode(frame, 1.0)
        except wire.UndecodableReport:
            wire.reads_via_sllurp(frame, "portal", 1.0)
        try:
            wire.decode_tag_reports(frame)
        except wire.UndecodableReport:
            wire.tag_reports_via_sllurp(frame)
    else:
        wire.decode(frame)


@FUZZ
@given(HOSTILE)
def test_hostile_frames_raise_only_the_drivers_errors(frame: bytes) -> None:
    assert wire.FrameSplitter().feed(frame) == [frame]
    try:
        decode_like_a_session(frame)
    except wire.FrameError as exc:  # UndecodableMessage: the session logs it and reconnects
        assert str(exc)
    # anything else (struct.error, IndexError, sllurp's LLRPError ...) fails the test


@FUZZ
@given(ro_access_report())
def test_valid_reports_decode_the_same_on_both_paths(frame: bytes) -> None:
    fast = wire.decode_tag_reports(frame)
    assert fast == wire.tag_reports_via_sllurp(frame)
    reads = wire.TagReadDecoder("portal").decode(frame, 1.0)
    assert [r.epc for r in reads] == [t.epc for t in fast if t.epc]


def test_epcdata_shorter_than_its_bit_count_is_undecodable_not_a_crash() -> None:
    head = epc_param(bytes(12))
    for epc_data in (tlv(241, b""), tlv(241, b"\x00"), epc_param(bytes(4), bits=496)):
        frame = message(wire.RO_ACCESS_REPORT, 1, tlv(240, head + epc_data))
        with pytest.raises(wire.UndecodableReport, match="EPCData"):
            wire.decode_tag_reports(frame)
        with pytest.raises(wire.UndecodableReport, match="EPCData"):
            wire.TagReadDecoder("portal").decode(frame, 1.0)


def test_a_broken_message_is_an_undecodable_message_naming_type_and_id() -> None:
    frame = message(13, 77, b"\x01\x1f\x00\xfb\x00")  # SET_READER_CONFIG_RESPONSE, LLRPStatus cut short
    with pytest.raises(wire.UndecodableMessage, match="type 13 id 77"):
        wire.decode(frame)
    event = message(63, 1, tlv(246, tlv(128, struct.pack("!Q", 1)) + tlv(256, b"\x00\x00")))
    with pytest.raises(wire.UndecodableMessage, match="not an RO_ACCESS_REPORT"):
        wire.reads_via_sllurp(event, "portal", 1.0)
    # found by fuzzing: sllurp decodes this READER_EVENT_NOTIFICATION with a TagReportData dict in it
    with pytest.raises(wire.UndecodableMessage, match="type 63 id 1"):
        wire.reads_via_sllurp(bytes.fromhex("043f0000001a0000000100f000160080000ccb00000000750005"), "portal", 1.0)
    assert issubclass(wire.UndecodableMessage, wire.FrameError)


def test_the_fallback_refuses_a_report_whose_lengths_do_not_add_up() -> None:
    """sllurp reads a cut EPC-96 as EPC "000000": a phantom tag. The fallback checks the lengths first."""
    frame = message(wire.RO_ACCESS_REPORT, 9, struct.pack("!HH", 240, 40) + b"\x8d\x00\x00\x00")
    with pytest.raises(wire.UndecodableReport):
        wire.TagReadDecoder("portal").decode(frame, 1.0)
    with pytest.raises(wire.UndecodableMessage, match=r"type 61 id 9 cannot be decoded: .*bad length 40"):
        wire.reads_via_sllurp(frame, "portal", 1.0)
    # an unknown TV type is what the fallback is for: it still goes to sllurp
    unknown = message(wire.RO_ACCESS_REPORT, 3, tlv(240, epc_param(bytes(12)) + b"\xfe\x00\x00"))
    with pytest.raises(wire.UnknownParameter):
        wire.decode_tag_reports(unknown)
    with pytest.raises(wire.UndecodableMessage, match="type 61 id 3 cannot be decoded"):  # sllurp: no such TV
        wire.reads_via_sllurp(unknown, "portal", 1.0)


def test_many_tag_layouts_from_a_hostile_reader_do_not_grow_memory() -> None:
    """The decoder learns one layout per TagReportData length; a reader sending every length must not
    make it keep thousands of large ``struct`` formats."""
    decoder = wire.TagReadDecoder("portal")
    epc = epc_param(bytes(12))
    decoder.decode(message(wire.RO_ACCESS_REPORT, 1, tlv(240, epc + tv(1, "H", 1))), 1.0)  # warm up
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(100, 2100):
            tag = tlv(240, epc + tv(1, "H", 1) * n)
            (read,) = decoder.decode(message(wire.RO_ACCESS_REPORT, n, tag), 1.0)
            assert read.antenna == 1
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 2_000_000, grown


def test_decoding_work_is_bounded_on_a_large_hostile_report() -> None:
    """64 KiB of TagReportData of every shape: linear work, well under a second here."""
    tags = [tlv(240, epc_param(i.to_bytes(12, "big")) + tv(1, "H", i) + custom(data=bytes(i % 9))) for i in range(900)]
    tags += [tlv(240, epc_param(bytes(16)) + tv(8, "H", 1) * 1000)]
    frame = message(wire.RO_ACCESS_REPORT, 1, b"".join(tags))
    start = time.perf_counter()
    for _ in range(10):
        assert len(wire.TagReadDecoder("portal").decode(frame, 1.0)) == 901
    assert time.perf_counter() - start < 10


# ---- reports built by pyllrp, an independent encoder: EPCData and vendor parameters ----------------------

_PYLLRP_EPC_BITS = [96, 128, 496]


def _pyllrp_param(param: Any) -> bytes:
    data: bytes = param.pack(bitstring.BitStream()).tobytes()
    return data


@st.composite
def pyllrp_tag(draw: st.DrawFn) -> tuple[bytes, wire.TagReport]:
    """One TagReportData, each parameter encoded by pyllrp: an EPC of 96 (EPC-96), 128 or 496 bits
    (EPCData), standard fields, and Impinj Custom parameters anywhere among them, the EPC included."""
    bits = draw(st.sampled_from(_PYLLRP_EPC_BITS))
    epc = draw(st.binary(min_size=bits // 8, max_size=bits // 8))
    antenna, rssi = draw(st.integers(1, 4)), draw(st.integers(-90, -20))
    first, last, count = draw(st.integers(1, 2**63)), draw(st.integers(1, 2**63)), draw(st.integers(1, 65535))
    epc_param = P.EPC_96_Parameter(EPC=int.from_bytes(epc, "big")) if bits == 96 else P.EPCData_Parameter(EPC=epc)
    standard = [
        epc_param,
        P.AntennaID_Parameter(AntennaID=antenna),
        P.PeakRSSI_Parameter(PeakRSSI=rssi),
        P.FirstSeenTimestampUTC_Parameter(Microseconds=first),
        P.LastSeenTimestampUTC_Parameter(Microseconds=last),
        P.TagSeenCount_Parameter(TagCount=count),
    ]
    parts = [_pyllrp_param(p) for p in standard]
    vendor = [
        P.ImpinjPeakRSSI_Parameter(RSSI=rssi * 100),
        P.ImpinjRFPhaseAngle_Parameter(PhaseAngle=draw(st.integers(0, 4095))),
        P.ImpinjRFDopplerFrequency_Parameter(DopplerFrequency=draw(st.integers(-32768, 32767))),
    ]
    for param in draw(st.lists(st.sampled_from(vendor), max_size=3)):
        parts.insert(draw(st.integers(0, len(parts))), _pyllrp_param(param))
    expected = wire.TagReport(epc.hex().upper(), antenna, rssi, first, last, count)
    return tlv(240, b"".join(parts)), expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(pyllrp_tag(), min_size=1, max_size=6), st.integers(0, 2**32 - 1))
def test_epcdata_and_vendor_parameters_from_pyllrp_decode_to_what_was_encoded(
    tags: list[tuple[bytes, wire.TagReport]], msg_id: int
) -> None:
    frame = message(wire.RO_ACCESS_REPORT, msg_id, b"".join(t for t, _ in tags))
    expected = [e for _, e in tags]
    assert wire.decode_tag_reports(frame) == expected
    assert wire.tag_reports_via_sllurp(frame) == expected  # the fallback too
    reads = wire.TagReadDecoder("portal").decode(frame, 1.0)
    assert [(r.epc, r.antenna, r.rssi, r.reader_time, r.seen_count) for r in reads] == [
        (e.epc, e.antenna, float(e.rssi or 0), (e.last_seen_us or 0) / 1e6, e.seen_count) for e in expected
    ]


def test_pyllrp_encodes_an_ro_access_report_the_driver_reads_on_both_paths() -> None:
    """A whole message from pyllrp (its own header and parameter order): EPC-96, EPCData of 128 and 496
    bits in one report, Impinj parameters at the end of each TagReportData, where LLRP puts Custom."""
    epcs = [bytes.fromhex("3034257BF7194E4000001A85"), bytes(range(16)), bytes(range(62))]
    data = []
    for i, epc in enumerate(epcs):
        first = P.EPC_96_Parameter(EPC=int.from_bytes(epc, "big")) if len(epc) == 12 else P.EPCData_Parameter(EPC=epc)
        data.append(
            P.TagReportData_Parameter(
                Parameters=[
                    first,
                    P.AntennaID_Parameter(AntennaID=i + 1),
                    P.PeakRSSI_Parameter(PeakRSSI=-50 - i),
                    P.LastSeenTimestampUTC_Parameter(Microseconds=1_700_000_000_000_000 + i),
                    P.ImpinjPeakRSSI_Parameter(RSSI=-5000 - 100 * i),
                    P.ImpinjRFPhaseAngle_Parameter(PhaseAngle=1000 + i),
                ]
            )
        )
    frame = _pyllrp_param(P.RO_ACCESS_REPORT_Message(MessageID=77, Parameters=data))
    expected = [
        wire.TagReport(epc.hex().upper(), i + 1, -50 - i, None, 1_700_000_000_000_000 + i, None)
        for i, epc in enumerate(epcs)
    ]
    assert wire.decode_tag_reports(frame) == expected
    assert wire.tag_reports_via_sllurp(frame) == expected
    assert [r.epc for r in wire.TagReadDecoder("portal").decode(frame, 1.0)] == [e.epc for e in expected]
    assert [r.epc for r in wire.reads_via_sllurp(frame, "portal", 1.0)] == [e.epc for e in expected]
