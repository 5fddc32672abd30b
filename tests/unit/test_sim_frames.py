"""LLRP framing and encoders of the simulator, checked against sllurp's decoder and GS1 TDS examples."""

from __future__ import annotations

import struct

import pytest
from sllurp.llrp import LLRPMessage

from simulators.llrp import frames as f
from simulators.llrp.capabilities import TX_POWER_CENTI_DBM, ReaderConfig, capabilities_response
from simulators.llrp.capabilities import reader_config_response as config_response
from simulators.llrp.epc import EPCError, sgtin96, sscc96

pytestmark = pytest.mark.timeout(30)


def decode(data: bytes) -> tuple[str, dict]:  # type: ignore[type-arg]
    msg = LLRPMessage(msgbytes=data)
    name = msg.getName()
    return name, msg.msgdict[name]


def sample_stream() -> tuple[bytes, list[tuple[int, int, bytes]]]:
    expected = [
        (f.KEEPALIVE_ACK, 7, b""),
        (f.DELETE_ROSPEC, 8, struct.pack("!I", 0)),
        (f.GET_REPORT, 9, b""),
        (f.ADD_ROSPEC, 0xFFFFFFFF, bytes(range(40))),
    ]
    return b"".join(f.message(t, i, b) for t, i, b in expected), expected


def test_parser_handles_a_split_at_every_byte_position() -> None:
    stream, expected = sample_stream()
    for cut in range(len(stream) + 1):
        parser = f.FrameParser()
        frames = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
        assert [(fr.msg_type, fr.msg_id, fr.body) for fr in frames] == expected, cut
        assert parser.buffered == 0


def test_parser_handles_one_byte_at_a_time_and_many_frames_in_one_chunk() -> None:
    stream, expected = sample_stream()
    parser = f.FrameParser()
    frames = [fr for byte in stream for fr in parser.feed(bytes([byte]))]
    assert [(fr.msg_type, fr.msg_id, fr.body) for fr in frames] == expected
    many = f.FrameParser().feed(stream * 50)
    assert len(many) == 200


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (struct.pack("!HII", (2 << 10) | 1, 10, 5), f.M_UNSUPPORTED_VERSION),
        (struct.pack("!HII", (1 << 10) | 1, 9, 5), f.M_FIELD_ERROR),
        (struct.pack("!HII", (1 << 10) | 1, 17 * 1024 * 1024, 5), f.M_FIELD_ERROR),
    ],
)
def test_parser_rejects_a_garbage_header(header: bytes, status: int) -> None:
    parser = f.FrameParser()
    good = f.message(f.KEEPALIVE_ACK, 1)
    with pytest.raises(f.FrameError) as info:
        parser.feed(good + header)
    assert info.value.status == status
    assert info.value.msg_id == 5
    with pytest.raises(f.FrameError):
        parser.feed(good)  # the stream cannot be trusted any more


def test_iter_params_reports_truncation() -> None:
    good = f.tlv(f.P_ROSPEC, b"\x00" * 6)
    assert [p.type for p in f.iter_params(good + bytes([0x80 | 1, 0, 3]))] == [f.P_ROSPEC, 1]
    with pytest.raises(f.ParameterError):
        list(f.iter_params(good[:-1]))
    with pytest.raises(f.ParameterError):
        list(f.iter_params(bytes([0x80 | 13]) + b"\x00" * 5))
    with pytest.raises(f.ParameterError):
        list(f.iter_params(b"\x00\xb1\x00"))


def test_ro_access_report_round_trips_through_sllurp() -> None:
    enc = f.TagReportEncoder(f.ALL_FIELDS, rospec_id=7)
    epc96 = bytes.fromhex("3034257BF7194E4000001A85")
    epc128 = bytes.fromhex("E2801160600002040000000000001234")
    reports = [
        enc.encode(enc.prefix(epc96), antenna=3, rssi=-61, micros=1_700_000_000_123_456, channel=5),
        enc.encode(enc.prefix(epc128), antenna=1, rssi=-40, micros=1_700_000_000_200_000),
    ]
    name, body = decode(f.ro_access_report(42, reports))
    assert name == "RO_ACCESS_REPORT"
    assert body["ID"] == 42
    first, second = body["TagReportData"]
    assert first["EPC-96"] == b"3034257bf7194e4000001a85"
    assert first["AntennaID"] == 3
    assert first["PeakRSSI"] == -61
    assert first["FirstSeenTimestampUTC"] == first["LastSeenTimestampUTC"] == 1_700_000_000_123_456
    assert first["TagSeenCount"] == 1
    assert first["ROSpecID"] == 7
    assert first["ChannelIndex"] == 5
    assert second["EPC"] == b"e2801160600002040000000000001234"
    assert "EPC-96" not in second
    assert second["AntennaID"] == 1


def test_tag_report_contains_only_selected_fields() -> None:
    enc = f.TagReportEncoder(f.ContentSelector(antenna_id=True, peak_rssi=True))
    data = enc.encode(enc.prefix(bytes(12)), antenna=2, rssi=-70, micros=1)
    _, body = decode(f.ro_access_report(1, [data]))
    (tag,) = body["TagReportData"]
    assert set(tag) == {"EPC-96", "EPC", "AntennaID", "PeakRSSI"}
    bare = f.TagReportEncoder(f.ContentSelector())
    _, body = decode(f.ro_access_report(1, [bare.encode(bare.prefix(bytes(12)), 1, -50, 1)]))
    assert set(body["TagReportData"][0]) == {"EPC-96", "EPC"}


def test_content_selector_flags_round_trip() -> None:
    sel = f.ContentSelector(rospec_id=True, peak_rssi=True, tag_seen_count=True)
    assert f.ContentSelector.from_flags(sel.to_flags()) == sel
    assert f.ALL_FIELDS.to_flags() == 0xFFC0


@pytest.mark.parametrize(
    ("status", "name"), [(0, "Success"), (2, "Failed (a Client initiated connection already exists)")]
)
def test_reader_event_notification_round_trips(status: int, name: str) -> None:
    msg_name, body = decode(f.connection_attempt_event(3, status, 1_700_000_000_000_000))
    assert msg_name == "READER_EVENT_NOTIFICATION"
    data = body["ReaderEventNotificationData"]
    assert data["ConnectionAttemptEvent"]["Status"] == name
    assert data["UTCTimestamp"]["Microseconds"] == 1_700_000_000_000_000


def test_capabilities_response_satisfies_sllurp_parse_capabilities() -> None:
    name, body = decode(capabilities_response(11, antennas=4))
    assert name == "GET_READER_CAPABILITIES_RESPONSE"
    assert body["ID"] == 11
    assert body["LLRPStatus"]["StatusCode"] == "Success"
    assert body["GeneralDeviceCapabilities"]["MaxNumberOfAntennaSupported"] == 4
    assert body["GeneralDeviceCapabilities"]["HasUTCClockCapability"]
    band = body["RegulatoryCapabilities"]["UHFBandCapabilities"]
    power = band["TransmitPowerLevelTableEntry"]
    assert [p["Index"] for p in power] == list(range(1, len(TX_POWER_CENTI_DBM) + 1))
    assert power[0]["TransmitPowerValue"] == 1000 and power[-1]["TransmitPowerValue"] == 3250
    modes = band["UHFC1G2RFModeTable"]["UHFC1G2RFModeTableEntry"]
    assert len(modes) >= 3 and modes[0]["DR"] == 1
    assert band["FrequencyInformation"]["Hopping"]
    assert len(band["FrequencyInformation"]["FrequencyHopTable"][0]["Frequency"]) == 50
    assert "LLRPCapabilities" in body and "C1G2LLRPCapabilities" in body


def test_reader_config_response_decodes() -> None:
    name, body = decode(config_response(12, 2, ReaderConfig(keepalive_ms=1500)))
    assert name == "GET_READER_CONFIG_RESPONSE"
    assert body["LLRPStatus"]["StatusCode"] == "Success"
    assert [a["AntennaID"] for a in body["AntennaProperties"]] == [1, 2]
    assert body["KeepaliveSpec"]["TimeInterval"] == 1500
    assert body["ROReportSpec"]["TagReportContentSelector"]["EnableAntennaID"]


def test_error_message_decodes() -> None:
    name, body = decode(f.error_message(99, f.M_UNSUPPORTED_MESSAGE, "nope"))
    assert name == "ERROR_MESSAGE"
    assert body["ID"] == 99
    assert body["LLRPStatus"]["StatusCode"] == "UnsupportedMessage"
    assert body["LLRPStatus"]["ErrorDescription"] == b"nope"


def test_sgtin96_matches_the_tds_worked_example() -> None:
    assert sgtin96("0614141", "812345", 6789, filter_value=3) == "3074257BF7194E4000001A85"
    assert sgtin96("0614141", "812345", 6789) == "3034257BF7194E4000001A85"


def test_sscc96_matches_the_tds_worked_example() -> None:
    assert sscc96("0614141", "1234567890", filter_value=3) == "3174257BF4499602D2000000"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("061414", "812345", 1), "item_reference must be 7 digits"),
        (("0614141", "812345", 1 << 38), "serial"),
        (("06141", "8123456", 1), "company_prefix"),
    ],
)
def test_sgtin96_rejects_bad_input(args: tuple[str, str, int], message: str) -> None:
    with pytest.raises(EPCError, match=message):
        sgtin96(*args)
