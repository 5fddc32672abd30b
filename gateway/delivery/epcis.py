"""GS1 EPCIS 2.0 output: a location event as an ``ObjectEvent`` in an ``EPCISDocument``, with its event hash ID.

What becomes EPCIS: ``arrived``, ``departed`` and ``scanned`` events, each one ``ObjectEvent`` with
``action: OBSERVE``, the tag's identity in ``epcList``, ``readPoint`` / ``bizLocation`` / ``bizStep`` /
``disposition`` from the location's ``epcis`` settings, and an ``eventID`` computed with the EPCIS Event
Hash ID algorithm (CBV 2.0 section 8.9), so that the same physical observation hashes to the same id in
every system that computes it. ``static`` and ``exception`` events are gateway diagnostics, not business
events: they get no EPCIS document.

Tags without a GS1 identity (``uri`` is None) are written as the EPC Raw URI of the TDS
(``urn:epc:raw:96.x3034...``): EPCIS 2.0 accepts any URI in ``epcList``, and the raw URI is the standard
name for "these are the bits of EPC memory". A location may set ``non_gs1: skip`` to publish nothing for them.

The hash is implemented for the fields this module writes, and for the business transaction, source and
destination lists, so it can be checked on the published reference examples; ``prehash`` raises
``ValueError`` for any other field rather than guess.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from gateway.config.epcis_fields import OFFSET, check_cbv, check_time_zone, check_uri
from gateway.delivery.topics import Topics
from gateway.domain.model import LocationEvent, rfc3339

if TYPE_CHECKING:
    from gateway.config import Config, EpcisSettings

__all__ = [
    "CONTEXT",
    "EPCIS_EVENT_TYPES",
    "EpcisRenderer",
    "canonical_uri",
    "check_cbv",
    "check_time_zone",
    "check_uri",
    "document",
    "event_hash_id",
    "object_event",
    "prehash",
    "raw_uri",
]

CONTEXT: Final = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
EPCIS_EVENT_TYPES: Final = frozenset({"arrived", "departed", "scanned"})
HASH_VERSION: Final = "CBV2.0"

# Bare vocabulary -> GS1 Web URI prefix (hash rule 16), and the CBV URN prefixes (rule 14).
_WEB_URI: Final = {
    "bizStep": "https://ref.gs1.org/cbv/BizStep-",
    "disposition": "https://ref.gs1.org/cbv/Disp-",
    "bizTransaction": "https://ref.gs1.org/cbv/BTT-",
    "source": "https://ref.gs1.org/cbv/SDT-",
    "destination": "https://ref.gs1.org/cbv/SDT-",
}
_CBV_URN: Final = {
    "urn:epcglobal:cbv:bizstep:": "https://ref.gs1.org/cbv/BizStep-",
    "urn:epcglobal:cbv:disp:": "https://ref.gs1.org/cbv/Disp-",
    "urn:epcglobal:cbv:btt:": "https://ref.gs1.org/cbv/BTT-",
    "urn:epcglobal:cbv:sdt:": "https://ref.gs1.org/cbv/SDT-",
    "urn:epcglobal:cbv:er:": "https://ref.gs1.org/cbv/ER-",
}
_HEX: Final = re.compile(r"^[0-9A-Fa-f]+$")


def time_zone_offset(zone: str, epoch_s: float) -> str:
    """The ``eventTimeZoneOffset`` in effect in ``zone`` at that instant: ``+02:00``."""
    if OFFSET.match(zone):
        return zone
    offset = datetime.fromtimestamp(epoch_s, ZoneInfo(zone)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# ---- building ----------------------------------------------------------------------------------------------


def raw_uri(epc_hex: str) -> str:
    """TDS EPC Raw URI of EPC memory with the toggle bit 0: ``urn:epc:raw:96.x3034257BF7194E4000001A85``."""
    return f"urn:epc:raw:{len(epc_hex) * 4}.x{epc_hex.upper()}"


def object_event(
    event: LocationEvent, settings: EpcisSettings, transaction: tuple[str, str] | None = None
) -> dict[str, Any] | None:
    """The EPCIS ObjectEvent for a location event, ``eventID`` included; None when it has no EPCIS form.
    ``transaction``: (CBV business transaction type, its URI) of the shipment the item belongs to."""
    if event.type not in EPCIS_EVENT_TYPES:
        return None
    if event.uri:
        epc = event.uri
    elif settings.non_gs1 == "raw" and event.epc and _HEX.match(event.epc):
        epc = raw_uri(event.epc)
    else:
        return None
    step = settings.biz_step
    disposition = settings.disposition
    override = {"in": settings.inbound, "out": settings.outbound}.get(event.direction or "")
    if event.type == "departed" and override is not None:
        step = override.biz_step or step
        disposition = override.disposition or disposition
    out: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": rfc3339(event.time),
        "eventTimeZoneOffset": time_zone_offset(settings.time_zone, event.time),
        "epcList": [epc],
        "action": "OBSERVE",
    }
    if step:
        out["bizStep"] = step
    if disposition:
        out["disposition"] = disposition
    if settings.read_point:
        out["readPoint"] = {"id": settings.read_point}
    if settings.biz_location:
        out["bizLocation"] = {"id": settings.biz_location}
    if transaction is not None:
        out["bizTransactionList"] = [{"type": transaction[0], "bizTransaction": transaction[1]}]
    for kind in ACTOR_FIELDS:  # who moved it (actors): the person's GSRN, the vehicle's GIAI
        actor = event.extra.get(kind)
        if actor:
            out[f"dockgate:{kind}"] = actor["id"]
    out["eventID"] = event_hash_id(out)
    return out


def document(events: Iterable[dict[str, Any]], doc_id: str, created: float) -> dict[str, Any]:
    """An EPCISDocument holding ``events`` in ``epcisBody.eventList``; with the ``dockgate`` prefix in its
    context when an event has an extension field."""
    events = list(events)
    extended = any(key.startswith("dockgate:") for event in events for key in event)
    return {
        "@context": [CONTEXT, {"dockgate": EXTENSION_NAMESPACE}] if extended else [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": rfc3339(created),
        "id": doc_id,
        "epcisBody": {"eventList": list(events)},
    }


class EpcisRenderer:
    """Turns location events into (topic, payload) EPCIS messages for the outbox; None: nothing to publish."""

    def __init__(
        self,
        config: Config,
        topics: Topics,
        clock: Callable[[], float] = time.time,
        transaction_of: Callable[[str], str | None] = lambda _shipment: None,
    ) -> None:
        self._topics = topics
        self._settings = {location.name: location.epcis for location in config.locations}
        self._clock = clock
        self._transaction_type = config.shipments.biz_transaction_type
        self._transaction_of = transaction_of  # shipment id -> its business transaction URI

    def document_for(self, event: LocationEvent) -> dict[str, Any] | None:
        settings = self._settings.get(event.location)
        if settings is None:
            return None
        shipment = event.extra.get("shipment")
        uri = self._transaction_of(shipment) if shipment and event.type != "exception" else None
        found = object_event(event, settings, (self._transaction_type, uri) if uri else None)
        if found is None:
            return None
        # The document is named after the native event (same UUID): a consumer can relate the two.
        return document([found], f"urn:uuid:{event.id}", self._clock())

    def __call__(self, event: LocationEvent) -> tuple[str, bytes] | None:
        doc = self.document_for(event)
        if doc is None:
            return None
        return self._topics.epcis(event.location, event.type), json.dumps(doc, separators=(",", ":")).encode()


# ---- the EPCIS Event Hash ID (CBV 2.0) -----------------------------------------------------------------------


def event_hash_id(event: dict[str, Any]) -> str:
    """``ni:///sha-256;<hex>?ver=CBV2.0`` of an EPCIS event as EPCIS 2.0 JSON-LD."""
    digest = hashlib.sha256(prehash(event).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver={HASH_VERSION}"


_IGNORED: Final = frozenset({"@context", "type", "eventID", "recordTime"})
_SUPPORTED: Final = frozenset(
    {
        "eventTime",
        "eventTimeZoneOffset",
        "epcList",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
    }
)


ACTOR_FIELDS: Final = ("operator", "vehicle")
EXTENSION_NAMESPACE: Final = "urn:dockgate:epcis:"  # the JSON-LD prefix "dockgate" of our extension fields


def prehash(event: dict[str, Any]) -> str:
    """The canonical pre-hash string: fields in the canonical property order, values normalised.

    Rules applied: timestamps in UTC with milliseconds and ``Z``; list members sorted by code point;
    bare and URN CBV values as GS1 Web URIs; EPC URIs as canonical GS1 Digital Link URIs (``id.gs1.org``);
    the ``type`` of a business transaction, source or destination after its value; leading and trailing
    whitespace removed; ``eventID`` and ``recordTime`` left out.
    """
    extensions = sorted(
        f"{{{EXTENSION_NAMESPACE}}}{key.removeprefix('dockgate:')}={canonical_uri(str(value).strip())}"
        for key, value in event.items()
        if key.startswith("dockgate:") and isinstance(value, str)
    )  # user extensions last, as {namespace}name=value, sorted (CBV 2.0, 8.9)
    unsupported = sorted(set(event) - _IGNORED - _SUPPORTED - {f"dockgate:{k}" for k in ACTOR_FIELDS})
    if unsupported:
        raise ValueError(f"the event hash is not implemented for field(s) {', '.join(unsupported)}")
    parts = [f"eventType={event['type']}"]
    parts.append(f"eventTime={_utc_ms(event['eventTime'])}")
    parts.append(f"eventTimeZoneOffset={str(event['eventTimeZoneOffset']).strip()}")
    if "epcList" in event:
        parts.append("epcList" + "".join(sorted(f"epc={canonical_uri(str(e).strip())}" for e in event["epcList"])))
    if "action" in event:
        parts.append(f"action={event['action']}")
    for key in ("bizStep", "disposition"):
        if key in event:
            parts.append(f"{key}={_vocabulary(key, str(event[key]).strip())}")
    for key in ("readPoint", "bizLocation"):
        if key in event:
            parts.append(f"{key}id={canonical_uri(str(event[key]['id']).strip())}")
    for key, item in (
        ("bizTransactionList", "bizTransaction"),
        ("sourceList", "source"),
        ("destinationList", "destination"),
    ):
        if key in event:
            members = []
            for entry in event[key]:
                text = f"{item}={canonical_uri(str(entry[item]).strip())}"
                if "type" in entry:
                    text += f"type={_vocabulary(item, str(entry['type']).strip())}"
                members.append(text)
            parts.append(key + "".join(sorted(members)))
    return "".join(parts + extensions)


def _utc_ms(text: str) -> str:
    """``2005-04-03T20:33:31.116000-06:00`` -> ``2005-04-04T02:33:31.116Z`` (rounded to the millisecond)."""
    text = text.strip()
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    base, fraction, zone = match.groups()
    moment = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    if fraction:  # milliseconds, rounded half up from the 4th decimal
        millis = (Decimal("0" + fraction) * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        moment += timedelta(milliseconds=int(millis))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _vocabulary(kind: str, value: str) -> str:
    for urn, web in _CBV_URN.items():
        if value.startswith(urn):
            return web + value[len(urn) :]
    if ":" not in value:
        return _WEB_URI[kind] + value
    return value


# ---- EPC URI -> canonical GS1 Digital Link URI ---------------------------------------------------------------


def check_digit(digits: str) -> str:
    """GS1 mod-10 check digit of a digit string (weights 3, 1, 3, ... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def _dl_text(value: str) -> str:
    return quote(unquote(value), safe="")


def canonical_uri(uri: str) -> str:
    """EPC pure identity URIs as canonical GS1 Digital Link URIs; any other URI unchanged.

    ``urn:epc:id:sgtin:0614141.107346.2017`` -> ``https://id.gs1.org/01/10614141073464/21/2017``.
    """
    if not uri.startswith("urn:epc:id:"):
        return uri
    scheme, _, body = uri[len("urn:epc:id:") :].partition(":")
    parts = body.split(".")
    try:
        converter = _DIGITAL_LINK[scheme]
    except KeyError:
        return uri  # gid, usdod, adi, ...: no GS1 key
    try:
        return "https://id.gs1.org/" + converter(parts)
    except (IndexError, ValueError):
        return uri


def _sgtin(p: list[str]) -> str:
    company, item, serial = p
    gtin = item[0] + company + item[1:]
    return f"01/{gtin}{check_digit(gtin)}/21/{_dl_text(serial)}"


def _sscc(p: list[str]) -> str:
    company, ref = p
    digits = ref[0] + company + ref[1:]
    return f"00/{digits}{check_digit(digits)}"


def _sgln(p: list[str]) -> str:
    company, ref, ext = p
    gln = company + ref
    out = f"414/{gln}{check_digit(gln)}"
    return out if ext == "0" else f"{out}/254/{_dl_text(ext)}"


def _keyed_serial(ai: str) -> Callable[[list[str]], str]:
    def convert(p: list[str]) -> str:
        company, ref, serial = p
        key = company + ref
        prefix = "0" if ai == "8003" else ""
        return f"{ai}/{prefix}{key}{check_digit(key)}{_dl_text(serial)}"

    return convert


def _with_check(ai: str) -> Callable[[list[str]], str]:
    def convert(p: list[str]) -> str:
        company, ref = p
        return f"{ai}/{company}{ref}{check_digit(company + ref)}"

    return convert


def _giai(p: list[str]) -> str:
    company, ref = p
    return f"8004/{company}{_dl_text(ref)}"


def _cpi(p: list[str]) -> str:
    company, ref, serial = p
    return f"8010/{company}{_dl_text(ref)}/8011/{serial}"


_DIGITAL_LINK: Final[dict[str, Callable[[list[str]], str]]] = {
    "sgtin": _sgtin,
    "sscc": _sscc,
    "sgln": _sgln,
    "grai": _keyed_serial("8003"),
    "gdti": _keyed_serial("253"),
    "sgcn": _keyed_serial("255"),
    "giai": _giai,
    "gsrn": _with_check("8018"),
    "gsrnp": _with_check("8017"),
    "pgln": _with_check("417"),
    "cpi": _cpi,
}
