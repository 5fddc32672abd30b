"""Report-side vendor quirks (``--quirk``): what some readers put in, or leave out of, their tag reports.

- ``reports-at-rospec-end``: the reader reports only when the ROSpec ends, unless its ROReportSpec asks
  for every N TagReportData (triggers 1, 2 with N > 0) or a time (triggers 3-6); the end of an AISpec and
  the AISpec's tag observation trigger report nothing (``report_timing``);
- ``epcdata-mixed``: some tags answer with a longer EPC, 128 or 496 bits in EPCData (TLV 241), mixed with
  EPC-96 in the same report (``reported_epc`` says which EPC each tag is reported with);
- ``vendor-custom-params``: each TagReportData carries Impinj-like Custom parameters (TLV 1023, vendor
  25882) before the EPC, between the EPC and the standard fields, and after them (``with_custom_params``).

The inventory calls these; the tests call ``reported_epc`` to know what the gateway should publish.
"""

from __future__ import annotations

import struct
from collections.abc import Collection
from typing import Final

from simulators.llrp import frames as f

REPORT_QUIRKS: Final = ("reports-at-rospec-end", "epcdata-mixed", "vendor-custom-params")

# ROReportTrigger values (section 16.2.7.1; 3-6 are LLRP 1.1's seconds and milliseconds)
UPON_N_TAGS: Final = (1, 2)
UPON_N_SECONDS: Final = (3, 4)
UPON_N_MILLISECONDS: Final = (5, 6)

# Impinj Custom parameter subtypes (Octane LTK): RF phase angle (U16), peak RSSI in centi-dBm (S16),
# RF Doppler frequency (S16)
IMPINJ_RF_PHASE_ANGLE: Final = 56
IMPINJ_PEAK_RSSI: Final = 57
IMPINJ_RF_DOPPLER_FREQUENCY: Final = 67

_CUSTOM_HEAD = struct.Struct("!II")
_TLV = struct.Struct("!HH")


def report_timing(
    quirks: Collection[str], trigger: int, n: int, observation_n: int, observation_timeout_ms: int, ai_duration_ms: int
) -> tuple[int, float]:
    """(report every N TagReportData or 0, report every S seconds or 0) for one ROSpec's ROReportSpec."""
    if "reports-at-rospec-end" in quirks:
        # only what the ROReportSpec itself asks for; everything else waits for the end of the ROSpec
        if trigger in UPON_N_TAGS and n:
            return n, 0.0
        if trigger in UPON_N_MILLISECONDS and n:
            return 0, n / 1000.0
        if trigger in UPON_N_SECONDS and n:
            return 0, float(n)
        return 0, 0.0
    every_s = observation_timeout_ms / 1000.0
    if trigger in UPON_N_MILLISECONDS and n:
        every_s = n / 1000.0
    elif trigger in UPON_N_SECONDS and n:
        every_s = float(n)
    elif not every_s and ai_duration_ms:
        every_s = ai_duration_ms / 1000.0  # each AISpec run ends and reports
    return (n if trigger in UPON_N_TAGS and n else observation_n), every_s


def reported_epc(epc: bytes, quirks: Collection[str]) -> bytes:
    """The EPC a tag answers with: under ``epcdata-mixed``, a third of the tags (by the EPC's last byte)
    have a 128-bit EPC, a third a 496-bit one, each starting with their 96-bit EPC; the rest are as they are."""
    if "epcdata-mixed" not in quirks or len(epc) != 12:
        return epc
    kind = epc[-1] % 3
    if kind == 1:
        return epc + b"\x00\x00\x12\x8b"  # 128 bits
    if kind == 2:
        return epc + bytes((i * 7 + 1) & 0xFF for i in range(50))  # 496 bits
    return epc


def reported_epc_hex(epc_hex: str, quirks: Collection[str]) -> str:
    """``reported_epc`` on upper-case hex, as the gateway's events carry EPCs."""
    return reported_epc(bytes.fromhex(epc_hex), quirks).hex().upper()


def custom(subtype: int, value: bytes, vendor: int = f.IMPINJ_VENDOR_ID) -> bytes:
    """A Custom parameter (TLV 1023): vendor, subtype, then the vendor's data."""
    return f.tlv(f.P_CUSTOM, _CUSTOM_HEAD.pack(vendor, subtype), value)


def with_custom_params(tag_report_data: bytes, epc_len: int, rssi: int, micros: int) -> bytes:
    """One TagReportData with Impinj-like Custom parameters before the EPC, after it and after the standard
    fields. ``epc_len`` is the size of its EPC parameter (EPC-96 or EPCData)."""
    body = tag_report_data[_TLV.size :]
    phase = custom(IMPINJ_RF_PHASE_ANGLE, struct.pack("!H", micros % 4096))
    peak = custom(IMPINJ_PEAK_RSSI, struct.pack("!h", rssi * 100))
    doppler = custom(IMPINJ_RF_DOPPLER_FREQUENCY, struct.pack("!h", (micros % 401) - 200))
    return f.tlv(f.P_TAG_REPORT_DATA, phase, body[:epc_len], peak, body[epc_len:], doppler)
