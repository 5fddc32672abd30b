"""Settings of the gateway's services beyond reading: the HTTP API's access and shipments."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from gateway.domain.settings import Duration, Name, Section


class ApiToken(Section):
    name: Name = Field(description="Who holds the token (in logs and the journal, never the token itself).")
    file: Path = Field(
        description="File holding the bearer token (owner-only); a relative path is looked up in "
        "$CREDENTIALS_DIRECTORY first (systemd LoadCredential=)."
    )
    role: Literal["viewer", "operator"] = Field(
        "viewer", description="viewer: read only; operator: may also post, close, cancel shipments."
    )
    owner: Name | None = Field(
        None, description="Only this owner's tags, events and reports (a customer's view); a viewer token."
    )

    @model_validator(mode="after")
    def _owner_views(self) -> ApiToken:
        if self.owner is not None and self.role != "viewer":
            raise ValueError("an owner-scoped token is a viewer: set role: viewer or drop owner")
        return self


class ApiSettings(Section):
    tokens: list[ApiToken] = Field(
        default_factory=list,
        description="Bearer tokens of the HTTP API (/api/v1) on metrics.listen; none: the API answers 503.",
    )
    tls_cert: Path | None = Field(None, description="PEM certificate (chain): the listener serves HTTPS.")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert (owner-only).")
    session_ttl: Duration = Field(
        12 * 3600.0,
        gt=0,
        le=30 * 86400.0,
        description="How long a browser session (the cookie set by POST /login after a token) lasts; "
        "changing the token ends its sessions sooner.",
    )

    @model_validator(mode="after")
    def _pair(self) -> ApiSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("set tls_cert and tls_key together")
        return self


class ShipmentSettings(Section):
    max_items: int = Field(10_000, ge=1, le=1_000_000, description="Refuse a shipment expecting more items.")
    biz_transaction_type: str = Field(
        "desadv",
        min_length=1,
        description="CBV 2.0 business transaction type of a shipment's id in EPCIS (desadv: advance ship notice).",
    )
    command_topic: bool = Field(True, description="Accept shipment commands on {prefix}/{gateway}/commands/shipments.")
