"""Owners: whose goods a tag is, from the config's company prefixes and EPC URI patterns."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.config import parse_config
from gateway.config.transparency import OwnerSettings
from gateway.core.owners import Owners, company_prefix
from gateway.domain.errors import ConfigError
from gateway.domain.model import LocationEvent
from simulators.llrp.epc import sgtin96, sscc96

ACME_SGTIN = "urn:epc:id:sgtin:0614141.812345.6789"


def _owners(*entries: dict[str, Any]) -> Owners:
    return Owners([OwnerSettings.model_validate(e) for e in entries])


def test_company_prefix_of_identity_uris() -> None:
    assert company_prefix(ACME_SGTIN) == "0614141"
    assert company_prefix("urn:epc:id:sscc:0614141.1234567890") == "0614141"
    assert company_prefix("urn:epc:id:gid:95100000.12345.400") == "95100000"
    assert company_prefix(None) is None
    assert company_prefix("urn:epc:tag:sgtin-96:1.0614141.812345.6789") is None


def test_prefixes_patterns_and_the_first_claim_wins() -> None:
    owners = _owners(
        {"name": "special", "patterns": ["urn:epc:idpat:sgtin:0614141.812345.*"]},
        {"name": "acme", "company_prefixes": ["0614141"]},
        {"name": "globex", "company_prefixes": ["0614142"], "patterns": ["urn:epc:idpat:sgtin:0614141.*.*"]},
    )
    assert owners.of(ACME_SGTIN) == "special"  # the pattern comes first
    assert owners.of("urn:epc:id:sgtin:0614141.900000.1") == "acme"  # acme's prefix before globex's pattern
    assert owners.of("urn:epc:id:sscc:0614142.1234567890") == "globex"
    assert owners.of("urn:epc:id:sscc:0614143.1234567890") == "unassigned"
    assert owners.of(None) == "unassigned"
    assert owners.names == ("special", "acme", "globex", "unassigned")


def test_of_text_reads_hex_uris_and_class_lines() -> None:
    owners = _owners(
        {"name": "acme", "company_prefixes": ["0614141"]},
        {"name": "globex", "patterns": ["urn:epc:idpat:sgtin:0614142.812345.*"]},
    )
    assert owners.of_text(sgtin96("0614141", "812345", 6789)) == "acme"
    assert owners.of_text(sscc96("0614141", "1234567890")) == "acme"
    assert owners.of_text("urn:epc:idpat:sgtin:0614142.812345.* x 24") == "globex"
    assert owners.of_text("urn:epc:idpat:sgtin:0614142.999999.* x 2") == "unassigned"
    assert owners.of_text("E28011606000020000000001") == "unassigned"  # not a GS1 encoding
    assert owners.of_text("garbage") == "unassigned"


def test_events_about_a_tag_get_an_owner_the_others_keep_none() -> None:
    owners = _owners({"name": "acme", "company_prefixes": ["0614141"]})

    def event(epc: str, uri: str | None) -> LocationEvent:
        return LocationEvent("arrived", 1.0, "gw", "dock-1", "r", epc, [1], 2, None, 1.0, 1.0, uri=uri)

    tagged, raw, door = event("3074257BF7194E4000001A85", ACME_SGTIN), event("E280AB", None), event("", None)
    owners.assign([tagged, raw, door])
    assert (tagged.owner, raw.owner, door.owner) == ("acme", "unassigned", None)
    assert tagged.to_payload()["owner"] == "acme" and door.to_payload()["owner"] is None


def test_a_shipment_verdict_belongs_to_the_one_owner_of_its_expected_items() -> None:
    owners = _owners(
        {"name": "acme", "company_prefixes": ["0614141"]}, {"name": "globex", "company_prefixes": ["0614142"]}
    )
    expected = {
        "SO-acme": [sgtin96("0614141", "812345", 1), "urn:epc:idpat:sgtin:0614141.812345.*"],
        "SO-mixed": [sgtin96("0614141", "812345", 2), sscc96("0614142", "1234567890")],
    }

    def verdict(kind: str, shipment: str) -> LocationEvent:
        return LocationEvent(kind, 1.0, "gw", "dock-1", "", "", [], 0, None, 1.0, 1.0, extra={"shipment": shipment})

    events = [
        verdict("shipment_verified", "SO-acme"),
        verdict("shipment_exception", "SO-acme"),
        verdict("shipment_verified", "SO-mixed"),  # several owners' goods: nobody's alone
        verdict("shipment_verified", "SO-forgotten"),  # no items known: no owner
        verdict("no_read", "SO-acme"),  # not a verdict
    ]
    owners.assign(events, lambda shipment: expected.get(shipment, []))
    assert [e.owner for e in events] == ["acme", "acme", None, None, None]


BASE: dict[str, Any] = {
    "gateway": {"id": "gw"},
    "readers": [{"name": "r", "type": "llrp", "host": "127.0.0.1"}],
    "locations": [{"name": "dock-1", "read_points": [{"reader": "r"}]}],
}


def _config(**extra: Any) -> Any:
    return parse_config(json.dumps({**BASE, **extra}), "test config")


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"owners": [{"name": "unassigned", "company_prefixes": ["0614141"]}]}, "owner of unclaimed tags"),
        ({"owners": [{"name": "acme"}]}, "claims nothing"),
        ({"owners": [{"name": "acme", "company_prefixes": ["61414x"]}]}, "4 to 12 digits"),
        ({"owners": [{"name": "acme", "patterns": ["urn:epc:idpat:sgtin:*.1.*"]}]}, "must come last"),
        (
            {
                "owners": [
                    {"name": "a", "company_prefixes": ["0614141"]},
                    {"name": "a", "company_prefixes": ["0614142"]},
                ]
            },
            "twice",
        ),
        (
            {
                "owners": [
                    {"name": "a", "company_prefixes": ["0614141"]},
                    {"name": "b", "company_prefixes": ["0614141"]},
                ]
            },
            "claimed by both",
        ),
        ({"api": {"tokens": [{"name": "c", "file": "/x", "owner": "nobody"}]}}, "not in owners"),
        (
            {
                "owners": [{"name": "a", "company_prefixes": ["0614141"]}],
                "api": {"tokens": [{"name": "c", "file": "/x", "role": "operator", "owner": "a"}]},
            },
            "viewer",
        ),
        ({"present": {"snapshot_every": "0s"}}, "snapshot_every"),
        ({"reports": {"report_every": "10s"}}, "report_every"),
    ],
)
def test_bad_owner_settings_are_refused_with_a_reason(extra: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(**extra)
    assert says in str(caught.value) + " ".join(caught.value.problems)


def test_good_owner_settings_load() -> None:
    config = _config(
        owners=[{"name": "acme", "company_prefixes": ["0614141"]}],
        api={"tokens": [{"name": "acme-view", "file": "/x", "owner": "acme"}]},
    )
    assert config.api.tokens[0].owner == "acme" and config.present.snapshot_every == 2.0
    assert config.reports.report_every == 3600.0
