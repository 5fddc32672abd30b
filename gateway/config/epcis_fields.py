"""The EPCIS fields a location's settings may set, checked as the config is read: CBV 2.0 business steps
and dispositions, URIs (readPoint, bizLocation) and time zones. ``gateway.delivery.epcis`` writes them into
documents and uses the same tables."""

from __future__ import annotations

import re
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# CBV 2.0 standard vocabulary, as written bare in EPCIS JSON-LD (the EPCIS 2.0 JSON Schema's enums).
_BIZ_STEPS = (
    "accepting arriving assembling collecting commissioning consigning creating_class_instance cycle_counting "
    "decommissioning departing destroying disassembling dispensing encoding entering_exiting holding inspecting "
    "installing killing loading other packing picking receiving removing repackaging repairing replacing reserving "
    "retail_selling shipping staging_outbound stock_taking stocking storing transporting unloading unpacking "
    "void_shipping sensor_reporting sampling"
)
_DISPOSITIONS = (
    "active container_closed damaged destroyed dispensed disposed encoded expired in_progress in_transit inactive "
    "no_pedigree_match non_sellable_other partially_dispensed recalled reserved retail_sold returned "
    "sellable_accessible sellable_not_accessible stolen unknown available completeness_verified "
    "completeness_inferred conformant container_open mismatch_instance mismatch_class mismatch_quantity "
    "needs_replacement non_conformant unavailable"
)
BIZ_STEPS: Final = frozenset(_BIZ_STEPS.split())
DISPOSITIONS: Final = frozenset(_DISPOSITIONS.split())
URI: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
OFFSET: Final = re.compile(r"^([+-])((0[0-9]|1[0-3]):([0-5][0-9])|14:00)$")


def check_cbv(kind: str, value: object) -> object:
    """A bizStep or disposition from the config: a bare CBV term, its CBV URN, or another URI.

    CBV URNs are written bare, because the EPCIS 2.0 JSON Schema refuses ``urn:epcglobal:cbv:...`` in JSON.
    """
    if value is None:
        return None
    known = BIZ_STEPS if kind == "bizStep" else DISPOSITIONS
    urn = "urn:epcglobal:cbv:bizstep:" if kind == "bizStep" else "urn:epcglobal:cbv:disp:"
    example = "receiving" if kind == "bizStep" else "in_progress"
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a CBV {kind} such as {example!r} or a URI, got {value!r}")
    if value.startswith(urn):
        value = value[len(urn) :]
    if value in known:
        return value
    if ":" in value and URI.match(value) and not value.startswith(("urn:epcglobal:cbv", "https://ref.gs1.org/cbv")):
        return value
    raise ValueError(
        f"{value!r} is neither a CBV {kind} ({example}, ...: see docs/epcis.md) nor a URI of your own vocabulary"
    )


def check_uri(value: object) -> object:
    """readPoint / bizLocation: an SGLN (``urn:epc:id:sgln:0614141.00777.0``) or any absolute URI."""
    if value is None:
        return None
    if not isinstance(value, str) or not URI.match(value):
        raise ValueError(f"expected a URI such as urn:epc:id:sgln:0614141.00777.0, got {value!r}")
    return value


def check_time_zone(value: object) -> object:
    """``UTC``, an IANA zone (``Europe/Berlin``, follows daylight saving) or a fixed offset (``+01:00``)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a time zone such as Europe/Berlin or +01:00, got {value!r}")
    if OFFSET.match(value):
        return value
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}: use an IANA name (Europe/Berlin) or an offset (+01:00)"
        ) from None
    return value
