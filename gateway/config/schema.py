"""The config's schema: one typed section per part of the gateway, with a default and a description per
field. Readers' settings come from their drivers (``drivers.registry``); locations' from ``locations``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from drivers.registry import AnyReaderSettings
from gateway.config.locations import FilterSettings, LocationSettings
from gateway.config.references import CrossReferenceError, cross_reference_problems
from gateway.config.service import ApiSettings, ShipmentSettings
from gateway.config.traceability import ActorsSettings, JournalSettings
from gateway.config.transparency import UNASSIGNED, OwnerSettings, PresentSettings, ReportSettings
from gateway.domain.settings import Duration, Name, Port, Section, Size

ReaderSettings = Annotated[AnyReaderSettings, Field(discriminator="type")]
"""One entry of ``readers``: the settings model of its ``type``."""


class GatewaySettings(Section):
    id: Name = Field(description="This gateway's name; appears in MQTT topics and in every event.")


def _topic_template(*placeholders: str) -> Callable[[object], object]:
    known = ", ".join("{" + p + "}" for p in placeholders)

    def check(value: object) -> object:
        if not isinstance(value, str) or not value:
            raise ValueError(f"expected a topic template such as {{prefix}}/{{gateway}}/..., got {value!r}")
        if "#" in value or "+" in value:
            raise ValueError(f"{value!r}: a topic to publish on cannot contain the wildcards + or #")
        try:
            value.format(**{p: "x" for p in placeholders})
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"{value!r}: unknown or malformed placeholder {exc} (allowed: {known})") from None
        return value

    return check


class TopicSettings(Section):
    events: Annotated[str, BeforeValidator(_topic_template("prefix", "gateway", "location", "type"))] = Field(
        "{prefix}/{gateway}/events/{location}", description="Where events go; {type} is arrived, departed..."
    )
    status: Annotated[str, BeforeValidator(_topic_template("prefix", "gateway"))] = Field(
        "{prefix}/{gateway}/status", description="Gateway availability: online / offline, retained."
    )
    reader_status: Annotated[str, BeforeValidator(_topic_template("prefix", "gateway", "reader"))] = Field(
        "{prefix}/{gateway}/readers/{reader}/status", description="Each reader's state as JSON, retained."
    )
    epcis: Annotated[str, BeforeValidator(_topic_template("prefix", "gateway", "location", "type"))] = Field(
        "{prefix}/{gateway}/epcis/{location}", description="EPCIS 2.0 documents, when mqtt.epcis is true."
    )


class MqttTlsSettings(Section):
    ca_file: Path | None = Field(None, description="CA certificate(s) to verify the broker; default: the system's.")
    cert_file: Path | None = Field(None, description="Client certificate, for mutual TLS.")
    key_file: Path | None = Field(None, description="Client private key, for mutual TLS.")
    insecure_skip_verify: bool = Field(
        False, description="Do not verify the broker's certificate and host name (testing only; logs a warning)."
    )

    @model_validator(mode="after")
    def _pairs(self) -> MqttTlsSettings:
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file needs cert_file")
        return self


class MqttSettings(Section):
    host: str = Field("127.0.0.1", min_length=1, description="Broker host name or address.")
    port: Port = Field(1883, description="Broker TCP port (8883 is the usual TLS port).")
    protocol: Literal["5", "3.1.1"] = Field("5", description='MQTT protocol version: "5" or "3.1.1".')
    topic_prefix: str = Field("dockgate", min_length=1, pattern=r"^[^#+]+$", description="First level of every topic.")
    topics: TopicSettings = Field(default_factory=TopicSettings)
    client_id: str | None = Field(None, description="MQTT client id; default dockgate-<gateway.id>.")
    username: str | None = Field(None, min_length=1, description="User name for the broker.")
    password_file: Path | None = Field(
        None, description="File holding the password (relative: under $CREDENTIALS_DIRECTORY when set)."
    )
    password_env: str | None = Field(None, min_length=1, description="Environment variable holding the password.")
    tls: MqttTlsSettings | None = Field(None, description="Connect with TLS (1.2 or newer) when present.")
    keepalive: Duration = Field(30.0, gt=0, description="MQTT keepalive interval.")
    reconnect_delay_max: Duration = Field(60.0, gt=0, description="Reconnect backoff (full jitter) is capped here.")
    max_inflight: int = Field(100, ge=1, le=65535, description="Events published but not yet acknowledged, at most.")
    epcis: bool = Field(
        False, description="Also publish each arrived/departed/scanned event as an EPCIS 2.0 document (topics.epcis)."
    )
    owner_topics: bool = Field(
        False,
        description="Also publish each event with an owner on {prefix}/{gateway}/owners/{owner}/events/{location}, "
        "for a broker ACL per owner.",
    )

    @model_validator(mode="after")
    def _password(self) -> MqttSettings:
        if self.password_file is not None and self.password_env is not None:
            raise ValueError("set password_file or password_env, not both")
        if (self.password_file is not None or self.password_env is not None) and self.username is None:
            raise ValueError("a password needs a username")
        return self


class PipelineSettings(Section):
    arrive_min_reads: int = Field(2, ge=1, description='Reads within `arrive_window` before "arrived".')
    arrive_window: Duration = Field(1.0, gt=0, description="Window for `arrive_min_reads`.")
    depart_after: Duration = Field(5.0, gt=0, description='No reads for this long -> "departed".')
    static_after: Duration = Field(
        300.0, gt=0, description="A tag present this long without a break is static (door frame, reference tag)."
    )
    static_release: Duration = Field(
        60.0, gt=0, description="A static tag gone this long is forgotten (one `departed` with static: true)."
    )
    static_event: bool = Field(True, description="Publish one `static` event when a tag becomes static.")
    arbitration_window: Duration = Field(
        0.8, gt=0, description="Evidence window when neighbouring locations read the same tag."
    )
    arbitration_lead: float = Field(
        3.0,
        ge=1.0,
        description="At a location with neighbours, an arrival is confirmed arbitration_window after the first "
        "read when the location's evidence is at least this many times the strongest neighbour's ...",
    )
    arbitration_doubt_hold: Duration = Field(
        2.4, gt=0, description="... and when the call is closer, no sooner than this after the first read."
    )
    match_window: Duration = Field(
        10.0,
        gt=0,
        description="A scan matches a tag read at its location this long before it; an SSCC with no such tag "
        "this long before or after is a barcode_without_tag exception.",
    )
    filters: FilterSettings = Field(
        default_factory=FilterSettings,
        description="Tag filters for every location.",
    )


class OutboxSettings(Section):
    path: Path = Field(Path("./var/outbox.db"), description="SQLite file that holds events until acked.")
    max_events: int = Field(1_000_000, ge=1, description="Events kept while the broker is away, at most.")
    max_bytes: Size = Field(512 * 1024**2, ge=4096, description="Bytes of event payload kept, at most.")
    max_age: Duration = Field(7 * 86400.0, gt=0, description="Events older than this are dropped (counted).")
    policy: Literal["drop_oldest", "reject_new"] = Field(
        "drop_oldest", description="When full: drop the oldest events, or reject the new ones. Both are counted."
    )
    group: str | None = Field(
        None,
        min_length=1,
        description="A group that may read the outbox and its journal (mode 0640, this group), e.g. for a backup "
        "or an audit export run as another user; the gateway must be a member (or root). Default: owner-only "
        "(0600). The journal's signing key stays owner-only.",
    )


def _listen(value: object) -> object:
    if value in (None, "", "off", False):
        return None
    if isinstance(value, str):
        _, sep, port = value.rpartition(":")
        if sep and port.isdigit() and 0 <= int(port) <= 65535:
            return value
    raise ValueError(f"expected host:port such as 127.0.0.1:9108 (or off), got {value!r}")


class MetricsSettings(Section):
    listen: Annotated[str | None, BeforeValidator(_listen)] = Field(
        "127.0.0.1:9108",
        description="Where /metrics, /healthz and /readyz are served; 0.0.0.0:9108 exposes them; off disables.",
    )


def _prefix_lengths(value: object) -> object:
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping of company prefix digits to lengths 6-12, got {value!r}")
    out: dict[str, int] = {}
    for key, length in value.items():
        digits = str(key)
        if not digits.isdigit() or len(digits) > 12:
            raise ValueError(f"{key!r}: expected the leading digits of a company prefix (quote it: '0614141')")
        if isinstance(length, bool) or not isinstance(length, int) or not 6 <= length <= 12:
            raise ValueError(f"{digits}: expected a company prefix length 6-12, got {length!r}")
        out[digits] = length
    return out


class Gs1Settings(Section):
    company_prefix_lengths: Annotated[dict[str, int], BeforeValidator(_prefix_lengths)] = Field(
        default_factory=dict,
        description="Company prefix (or its leading digits) -> its length, for barcode URIs; longest key wins.",
    )
    default_company_prefix_length: int | None = Field(
        7, ge=6, le=12, description="Used when neither the map nor GS1's prefix ranges know; null: no URI."
    )


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    format: Literal["keyvalue", "json"] = Field("keyvalue", description="key=value lines, or one JSON object a line.")


class Config(Section):
    gateway: GatewaySettings
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    readers: list[ReaderSettings] = Field(min_length=1, description="The readers this gateway drives.")
    locations: list[LocationSettings] = Field(min_length=1, description="Places where events happen.")
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    gs1: Gs1Settings = Field(default_factory=Gs1Settings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    shipments: ShipmentSettings = Field(default_factory=ShipmentSettings)
    owners: list[OwnerSettings] = Field(
        default_factory=list, description="Whose goods a tag is; the first entry that claims it wins."
    )
    present: PresentSettings = Field(default_factory=PresentSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    journal: JournalSettings = Field(default_factory=JournalSettings)
    actors: ActorsSettings = Field(default_factory=ActorsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        problems = cross_reference_problems(self.model_dump(include={"readers", "locations"}))
        if problems:
            raise CrossReferenceError(problems)
        return self

    @model_validator(mode="after")
    def _owner_names(self) -> Config:
        names: set[str] = set()
        claimed: dict[str, str] = {}
        for owner in self.owners:
            if owner.name in names:
                raise ValueError(f"owners: {owner.name!r} is listed twice; give each owner one entry")
            names.add(owner.name)
            for claim in [*owner.company_prefixes, *owner.patterns]:
                if claim in claimed:
                    raise ValueError(f"owners: {claim!r} is claimed by both {claimed[claim]!r} and {owner.name!r}")
                claimed[claim] = owner.name
        for i, token in enumerate(self.api.tokens):
            if token.owner is not None and token.owner not in names and token.owner != UNASSIGNED:
                raise ValueError(f"api.tokens[{i}].owner: {token.owner!r} is not in owners ({sorted(names)})")
        return self
