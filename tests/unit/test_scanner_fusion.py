"""Scans through the core on fake time: dedupe, scanned events, matched_epc, barcode_without_tag."""

from __future__ import annotations

from typing import Any

from gateway.config import parse_config
from gateway.core.pipeline import Pipeline
from gateway.core.scanning import ScanProcessor
from gateway.domain.model import LocationEvent, ScanRead, TagRead
from simulators.llrp.epc import sscc96
from tests.conftest import check_event

CONFIG = """\
gateway: {id: gw}
readers:
  - {name: portal-3, type: llrp, host: 127.0.0.1, antennas: [1, 2]}
  - {name: scanner-3, type: serial, port: loop://}
  - {name: scanner-9, type: serial, port: loop://, dedupe_window: 0}
locations:
  - name: dock-3
    read_points: [{reader: portal-3}, {reader: scanner-3}]
  - name: desk
    read_points: [{reader: scanner-9}]
pipeline: {arrive_min_reads: 2, arrive_window: 1s, depart_after: 2s, match_window: 5s}
"""
T0 = 1_800_000_000.0
SSCC_LABEL = "]C100106141412345678908"  # urn:epc:id:sscc:0614141.1234567890
SSCC_TAG = sscc96("0614141", "1234567890")
OTHER_LABEL = "]C100106141411234567897"  # urn:epc:id:sscc:0614141.1123456789


class Core:
    """The main loop's two stages, as gateway.app wires them."""

    def __init__(self, text: str = CONFIG) -> None:
        config = parse_config(text)
        self.pipeline = Pipeline(config)
        self.scans = ScanProcessor(config, self.pipeline.presence, self.pipeline.identity)

    def step(self, now: float, *batches: list[TagRead]) -> list[LocationEvent]:
        tags, scans = ScanProcessor.split(list(batches))
        events = self.pipeline.process((r for b in tags for r in b), now)
        events += self.scans.process(scans, events, now)
        for event in events:
            event.seq = 1
            check_event(event.to_payload())
        return events


def tag(epc: str, t: float) -> TagRead:
    return TagRead(reader="portal-3", antenna=1, epc=epc, rssi=-50.0, time=t)


def scan(text: str, t: float, reader: str = "scanner-3") -> ScanRead:
    return ScanRead(reader=reader, antenna=0, epc="", rssi=None, time=t, text=text)


def payloads(events: list[LocationEvent], kind: str) -> list[dict[str, Any]]:
    return [e.to_payload() for e in events if e.type == kind]


def test_scanned_event_with_barcode_and_uri_and_dedupe() -> None:
    core = Core()
    events = core.step(T0, [scan("]d2018061414112345821" + "6789", T0)])
    (event,) = payloads(events, "scanned")
    assert event["location"] == "dock-3" and event["reader"] == "scanner-3"
    assert event["uri"] == "urn:epc:id:sgtin:0614141.812345.6789"
    assert event["barcode"] == {
        "data": "018061414112345821" + "6789",
        "symbology": "gs1-datamatrix",
        "aim": "]d2",
        "gs1": {"01": "80614141123458", "21": "6789"},
    }
    assert event["epc"] is None and event["matched_epc"] is None and event["antennas"] == []
    # the same label again within dedupe_window (1 s), sliding: counted, not sent
    assert core.step(T0 + 0.5, [scan("]d2018061414112345821" + "6789", T0 + 0.5)]) == []
    assert core.step(T0 + 1.2, [scan("]d2018061414112345821" + "6789", T0 + 1.2)]) == []
    assert core.scans.duplicates == {"scanner-3": 2}
    assert len(payloads(core.step(T0 + 2.5, [scan("]d2018061414112345821" + "6789", T0 + 2.5)]), "scanned")) == 1
    # dedupe_window 0: every scan is an event
    assert len(core.step(T0 + 3, [scan("X", T0 + 3, "scanner-9")], [scan("X", T0 + 3, "scanner-9")])) == 2


def test_scan_matches_a_tag_present_at_the_location() -> None:
    core = Core()
    arrived = core.step(T0 + 0.1, [tag(SSCC_TAG, T0), tag(SSCC_TAG, T0 + 0.1)])
    assert [e.type for e in arrived] == ["arrived"]
    events = core.step(T0 + 3, [scan(SSCC_LABEL, T0 + 3)])
    (event,) = payloads(events, "scanned")
    assert event["matched_epc"] == SSCC_TAG == event["epc"]
    assert event["uri"] == arrived[0].uri
    # no exception later
    assert payloads(core.step(T0 + 20), "exception") == []


def test_scan_matches_a_tag_that_departed_within_the_window() -> None:
    core = Core()
    core.step(T0 + 0.1, [tag(SSCC_TAG, T0), tag(SSCC_TAG, T0 + 0.1)])
    assert [e.type for e in core.step(T0 + 3)] == ["departed"]
    (event,) = payloads(core.step(T0 + 4, [scan(SSCC_LABEL, T0 + 4)]), "scanned")
    assert event["matched_epc"] == SSCC_TAG


def test_sscc_without_tag_is_an_exception_after_the_window() -> None:
    core = Core()
    core.step(T0 + 0.1, [tag(SSCC_TAG, T0), tag(SSCC_TAG, T0 + 0.1)])  # another pallet's tag is present
    events = core.step(T0 + 1, [scan(OTHER_LABEL, T0 + 1)])
    assert payloads(events, "scanned")[0]["matched_epc"] is None
    assert payloads(core.step(T0 + 5.9), "exception") == []  # not yet: the tag may still come
    (exception,) = payloads(core.step(T0 + 6.1), "exception")
    assert exception["reason"] == "barcode_without_tag"
    assert exception["uri"] == "urn:epc:id:sscc:0614141.1123456789"
    assert exception["barcode"]["gs1"] == {"00": "106141411234567897"}
    assert exception["location"] == "dock-3" and exception["reader"] == "scanner-3" and exception["epc"] is None


def test_sscc_scanned_before_its_tag_passes_is_no_exception() -> None:
    core = Core()
    assert payloads(core.step(T0, [scan(SSCC_LABEL, T0)]), "scanned")[0]["matched_epc"] is None
    core.step(T0 + 2, [tag(SSCC_TAG, T0 + 2)])  # one read is enough: the tag works
    assert payloads(core.step(T0 + 10), "exception") == []


def test_no_fusion_where_there_is_no_rfid_and_none_for_non_sscc() -> None:
    core = Core()
    core.step(T0, [scan(OTHER_LABEL, T0, "scanner-9")], [scan("]E05901234123457", T0)])
    assert payloads(core.step(T0 + 30), "exception") == []


def test_tag_batches_never_pass_through_the_scan_path() -> None:
    tags, scans = ScanProcessor.split([[tag(SSCC_TAG, T0)], [scan("X", T0)], []])
    assert [type(b[0]).__name__ for b in tags if b] == ["TagRead"]
    assert [type(b[0]).__name__ for b in scans] == ["ScanRead"]
