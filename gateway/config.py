"""The configuration: one YAML file, one typed schema with a default and a description per field.

``load_config`` turns every problem into one line that names its field path and what is wrong
(``readers[0].port: expected an integer 1-65535, got 'abc'``), so ``dockgate check-config`` and
``dockgate run`` can show all of them at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    model_validator,
)

from gateway.domain.errors import ConfigError
from gateway.domain.settings import AntennaId, Duration, Name, Port, Section, Size


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

    @model_validator(mode="after")
    def _password(self) -> MqttSettings:
        if self.password_file is not None and self.password_env is not None:
            raise ValueError("set password_file or password_env, not both")
        if (self.password_file is not None or self.password_env is not None) and self.username is None:
            raise ValueError("a password needs a username")
        return self


TagField = Literal["antenna", "rssi", "first_seen", "last_seen", "seen_count", "channel"]
_DEFAULT_TAG_FIELDS: tuple[TagField, ...] = ("antenna", "rssi", "first_seen", "last_seen", "seen_count")


class LLRPGpiSettings(Section):
    port: int = Field(ge=1, le=65535, description="GPI port of the photo eye or motion sensor.")
    linger: Duration = Field(2.0, ge=0, description="Keep reading this long after the input goes inactive.")
    location: Name | None = Field(
        None, description="The door the input watches (no_read exceptions go there); default: the reader's location."
    )
    active_high: bool = Field(True, description="The input is active when high.")


class LLRPGpoPulse(Section):
    port: int = Field(ge=1, le=65535, description="GPO port to drive.")
    pulse: Duration = Field(0.5, gt=0, description="How long the output stays on.")


class LLRPReaderSettings(Section):
    name: Name = Field(description="The reader's name; used in read points, events and topics.")
    type: Literal["llrp"] = Field(description="Reader driver: llrp.")
    host: str = Field(min_length=1, description="Reader host name or address.")
    port: Port = Field(5084, description="LLRP TCP port of the reader.")
    antennas: list[AntennaId] = Field(
        default_factory=lambda: [1], min_length=1, description="Antenna ports to inventory with."
    )
    report_every_n_tags: int = Field(
        50, ge=1, le=65535, description="The reader sends a report after this many tag reads..."
    )
    report_timeout: Duration = Field(
        0.2, gt=0, description="...or when this much time has passed since the last report."
    )
    reconnect_delay_max: Duration = Field(30.0, gt=0, description="Longest wait between two connection attempts.")
    reconnect_delay_min: Duration = Field(0.5, gt=0, description="First wait before connecting again (doubles).")
    vendor: Literal["impinj", "zebra", "generic"] = Field(
        "generic", description="Preset for session, reader mode and search mode (docs/llrp.md says why)."
    )
    tx_power: float | dict[AntennaId, float] | None = Field(
        None, description="Transmit power in dBm, one for all antennas or per antenna; the nearest level the "
        "reader offers is used (logged). Default: the reader's highest."
    )
    reader_mode: int | None = Field(None, ge=0, description="C1G2 RF mode (ModeIdentifier); default: the preset's.")
    session: Literal[0, 1, 2, 3] | None = Field(None, description="Gen2 session 0-3; default: the preset's.")
    search_mode: Literal["single_target", "dual_target", "single_target_suppression"] | None = Field(
        None, description="Impinj inventory search mode (Impinj readers only); default: the preset's."
    )
    tag_population: int = Field(32, ge=1, le=65535, description="Expected tags in the field at once.")
    report_fields: list[TagField] = Field(
        default_factory=lambda: list(_DEFAULT_TAG_FIELDS),
        description="Tag fields the reader reports with each EPC.",
    )
    keepalive: Duration = Field(
        5.0, gt=0, description="The reader sends a keepalive this often; none for twice this long = dead link."
    )
    response_timeout: Duration = Field(10.0, gt=0, description="Longest wait for an answer to one request.")
    gpi: LLRPGpiSettings | None = Field(None, description="Gate reading on a GPI input (photo eye).")
    gpo: dict[Literal["arrived", "departed", "exception"], LLRPGpoPulse] = Field(
        default_factory=dict, description="GPO pulse per event type at this reader's door (light stack, buzzer)."
    )

    @model_validator(mode="after")
    def _per_antenna_power(self) -> LLRPReaderSettings:
        if isinstance(self.tx_power, dict):
            missing = sorted(set(self.antennas) - set(self.tx_power))
            extra = sorted(set(self.tx_power) - set(self.antennas))
            if missing or extra:
                raise ValueError(
                    f"tx_power: give a power for every antenna in {self.antennas}"
                    + (f"; missing {missing}" if missing else "")
                    + (f"; not an antenna of this reader {extra}" if extra else "")
                )
        return self


def _usb_id(value: object) -> object:
    if isinstance(value, str):
        try:
            value = int(value, 16 if value.lower().startswith("0x") else 10)
        except ValueError:
            raise ValueError(f"expected a USB id 0x0000-0xffff, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        raise ValueError(f"expected a USB id 0x0000-0xffff, got {value!r}")
    return value


def _terminator(value: object) -> object:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected CR, LF, CRLF or a non-empty string such as '\\x03', got {value!r}")
    try:
        value.encode("latin-1").decode("unicode_escape")
    except (UnicodeError, ValueError):
        raise ValueError(f"{value!r}: not a valid byte string (escapes: \\r, \\n, \\xNN)") from None
    return value


def _stopbits(value: object) -> object:
    if isinstance(value, bool) or value not in (1, 1.5, 2):
        raise ValueError(f"expected 1, 1.5 or 2, got {value!r}")
    return value


UsbId = Annotated[int, BeforeValidator(_usb_id)]
Terminator = Annotated[str, BeforeValidator(_terminator)]


class ScannerSettings(Section):
    """What every barcode scanner has. A scanner read point names the scanner and no antennas."""

    name: Name = Field(description="The scanner's name; used in read points, events and topics.")
    max_length: int = Field(1024, ge=1, le=65536, description="Longer scans are dropped (counted) as noise.")
    dedupe_window: Duration = Field(
        1.0, ge=0, description="The same data from the same scanner again within this long is counted, not sent."
    )
    reconnect_delay_max: Duration = Field(10.0, gt=0, description="Longest wait between two attempts to reopen.")

    @property
    def antennas(self) -> list[int]:
        return []


class SerialScannerSettings(ScannerSettings):
    type: Literal["serial"] = Field(description="Reader driver: serial (RS-232, USB CDC, pty, socket://, loop://).")
    port: str = Field(min_length=1, description="Device path (/dev/serial/by-id/...) or pyserial URL (socket://h:p).")
    baudrate: int = Field(9600, ge=50, le=4_000_000, description="Bits per second.")
    bytesize: Literal[5, 6, 7, 8] = Field(8, description="Data bits.")
    parity: Literal["N", "E", "O", "M", "S"] = Field("N", description="Parity: N, E, O, M or S.")
    stopbits: Annotated[float, BeforeValidator(_stopbits)] = Field(1, description="Stop bits: 1, 1.5 or 2.")
    terminator: Terminator = Field("CR", description="End of a scan: CR, LF, CRLF or any string ('\\x03').")
    prefix: str = Field("", description="Stripped from the start of a scan when present (escapes allowed).")
    suffix: str = Field("", description="Stripped from the end of a scan when present (escapes allowed).")


class UsbHidScannerSettings(ScannerSettings):
    type: Literal["usb-hid"] = Field(description="Reader driver: usb-hid (a scanner that types like a keyboard).")
    vendor_id: UsbId = Field(description="USB vendor id, e.g. 0x0c2e.")
    product_id: UsbId = Field(description="USB product id, e.g. 0x0b61.")
    serial: str | None = Field(None, min_length=1, description="USB serial number, when several are plugged in.")
    layout: Literal["us"] = Field("us", description="Keyboard layout the scanner types in.")


READER_TYPES: dict[str, type[Section]] = {
    "llrp": LLRPReaderSettings,
    "serial": SerialScannerSettings,
    "usb-hid": UsbHidScannerSettings,
}
ReaderSettings = Annotated[
    LLRPReaderSettings | SerialScannerSettings | UsbHidScannerSettings, Field(discriminator="type")
]
AnyReaderSettings = LLRPReaderSettings | SerialScannerSettings | UsbHidScannerSettings


def _tag_matcher(value: object) -> object:
    """A filter entry: an EPC hex prefix (``3034257B``) or an EPC URI pattern (``urn:epc:id:sscc:0614141.*``)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected an EPC hex prefix or an EPC URI pattern, got {value!r}")
    if value.startswith("urn:epc:"):
        from gateway.core.identity import UriPattern

        UriPattern(value)  # raises ValueError naming the pattern
        return value
    if not re.fullmatch(r"[0-9A-Fa-f]+", value):
        raise ValueError(f"{value!r} is neither an EPC hex prefix nor an EPC URI pattern (urn:epc:id:...)")
    return value.upper()


def _epc_hex(value: object) -> object:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9A-Fa-f]+", value):
        raise ValueError(f"expected an EPC in hex, got {value!r}")
    return value.upper()


TagMatcher = Annotated[str, BeforeValidator(_tag_matcher)]
EpcHex = Annotated[str, BeforeValidator(_epc_hex)]


class FilterSettings(Section):
    include: list[TagMatcher] = Field(
        default_factory=list, description="When not empty, only tags matching one of these pass."
    )
    exclude: list[TagMatcher] = Field(default_factory=list, description="Tags matching one of these never pass.")
    ignore: list[EpcHex] = Field(default_factory=list, description="EPCs (hex) to ignore, e.g. known test tags.")


class ReadPointSettings(Section):
    reader: Name = Field(description="Name of a reader in `readers`.")
    antennas: list[AntennaId] | None = Field(
        None, min_length=1, description="Antennas of that reader that watch this location; default all."
    )
    side: Literal["inside", "outside"] | None = Field(
        None, description="Which side of the door these antennas face; used for the direction of movement."
    )
    min_rssi: float | None = Field(None, description="Reads weaker than this (dBm) are dropped (counted).")


def _epcis_check(name: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        from gateway.delivery import epcis

        if name in ("bizStep", "disposition"):
            return epcis.check_cbv(name, value)
        if name == "time_zone":
            return epcis.check_time_zone(value)
        return epcis.check_uri(value)

    return check


class EpcisStepSettings(Section):
    biz_step: Annotated[str | None, BeforeValidator(_epcis_check("bizStep"))] = Field(
        None, description="CBV business step (receiving, shipping, ...) or a URI."
    )
    disposition: Annotated[str | None, BeforeValidator(_epcis_check("disposition"))] = Field(
        None, description="CBV disposition (in_progress, in_transit, ...) or a URI."
    )


class EpcisSettings(EpcisStepSettings):
    read_point: Annotated[str | None, BeforeValidator(_epcis_check("uri"))] = Field(
        None, description="EPCIS readPoint: an SGLN (urn:epc:id:sgln:0614141.00777.1) or any URI."
    )
    biz_location: Annotated[str | None, BeforeValidator(_epcis_check("uri"))] = Field(
        None, description="EPCIS bizLocation: an SGLN or any URI."
    )
    time_zone: Annotated[str, BeforeValidator(_epcis_check("time_zone"))] = Field(
        "UTC", description="For eventTimeZoneOffset: an IANA zone (Europe/Berlin) or an offset (+01:00)."
    )
    inbound: EpcisStepSettings | None = Field(
        None, description="biz_step / disposition for departed events with direction in (e.g. receiving)."
    )
    outbound: EpcisStepSettings | None = Field(
        None, description="biz_step / disposition for departed events with direction out (e.g. shipping)."
    )
    non_gs1: Literal["raw", "skip"] = Field(
        "raw", description="Tags without a GS1 identity: as EPC raw URI (urn:epc:raw:96.x...), or no EPCIS."
    )


class LocationSettings(Section):
    name: Name = Field(description="The location's name, e.g. dock-3; appears in topics and events.")
    read_points: list[ReadPointSettings] = Field(min_length=1, description="Reader antennas that watch this location.")
    neighbours: list[Name] = Field(
        default_factory=list,
        description="Locations whose antennas may read the same tags; a tag goes to the one with stronger evidence.",
    )
    filters: FilterSettings = Field(
        default_factory=FilterSettings,
        description="Tag filters for this location, applied after the global ones.",
    )
    epcis: EpcisSettings = Field(
        default_factory=EpcisSettings, description="How this location's events look as EPCIS (mqtt.epcis)."
    )


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
        1.0, gt=0, description="Evidence window when neighbouring locations read the same tag."
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
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        problems: list[tuple[str, str]] = []
        readers: dict[str, AnyReaderSettings] = {}
        for i, reader in enumerate(self.readers):
            if reader.name in readers:
                problems.append((f"readers[{i}].name", f"duplicate reader name {reader.name!r}"))
            readers.setdefault(reader.name, reader)
        location_names = {location.name for location in self.locations}
        for i, reader in enumerate(self.readers):
            gpi = getattr(reader, "gpi", None)
            if gpi is not None and gpi.location is not None and gpi.location not in location_names:
                known = ", ".join(sorted(location_names))
                problems.append(
                    (f"readers[{i}].gpi.location", f"no location named {gpi.location!r} (locations: {known})")
                )
        seen_locations: set[str] = set()
        owner: dict[tuple[str, int], tuple[int, str]] = {}
        scanner_owner: dict[str, tuple[int, str]] = {}
        for i, location in enumerate(self.locations):
            if location.name in seen_locations:
                problems.append((f"locations[{i}].name", f"duplicate location name {location.name!r}"))
            seen_locations.add(location.name)
            for j, neighbour in enumerate(location.neighbours):
                if neighbour == location.name:
                    problems.append((f"locations[{i}].neighbours[{j}]", "a location cannot be its own neighbour"))
                elif neighbour not in location_names:
                    known = ", ".join(sorted(location_names))
                    problems.append(
                        (f"locations[{i}].neighbours[{j}]", f"no location named {neighbour!r} (locations: {known})")
                    )
            for j, point in enumerate(location.read_points):
                where = f"locations[{i}].read_points[{j}]"
                found = readers.get(point.reader)
                if found is None:
                    known = ", ".join(sorted(readers)) or "none"
                    problems.append((f"{where}.reader", f"no reader named {point.reader!r} (readers: {known})"))
                    continue
                reader = found
                if reader.type != "llrp":
                    if point.antennas is not None:
                        problems.append(
                            (f"{where}.antennas", f"{reader.name!r} is a scanner: a scanner read point has no antennas")
                        )
                    taken_by, taken = scanner_owner.setdefault(reader.name, (i, location.name))
                    if taken_by != i:
                        problems.append(
                            (f"{where}.reader", f"scanner {reader.name!r} already belongs to location {taken!r}")
                        )
                    continue
                antennas = point.antennas if point.antennas is not None else reader.antennas
                for antenna in antennas:
                    if antenna not in reader.antennas:
                        problems.append(
                            (
                                f"{where}.antennas",
                                f"antenna {antenna} is not among reader {reader.name!r}'s antennas {reader.antennas}",
                            )
                        )
                        continue
                    taken_by, taken = owner.setdefault((reader.name, antenna), (i, location.name))
                    if taken_by != i:
                        problems.append(
                            (
                                f"{where}.antennas",
                                f"antenna {antenna} of reader {reader.name!r} already belongs to location {taken!r}",
                            )
                        )
        if problems:
            raise _CrossReferenceError(problems)
        return self


class _CrossReferenceError(ValueError):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in problems))
        self.problems = problems


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config file; raise ConfigError listing every problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read file: {exc}"], source) from exc
    return parse_config(text, source)


def parse_config(text: str, source: str = "config") -> Config:
    """Validate YAML text; raise ConfigError listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"not valid YAML: {where}{problem}"], source) from exc
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ConfigError([f"expected a mapping of sections (gateway, mqtt, readers, ...), got {got}"], source)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc), source) from exc


def _describe(exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        ctx_error = (error.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _CrossReferenceError):
            lines.extend(f"{path}: {msg}" for path, msg in ctx_error.problems)
            continue
        path = _path(error["loc"])
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path += ".type"
        lines.append(f"{path}: {_message(error)}" if path else _message(error))
    return lines


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if i >= 2 and loc[i - 2] == "readers" and part in READER_TYPES:
            continue  # the tag pydantic adds for the member of the readers union: not part of the path
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}" if out else part
        # pydantic adds tags such as "function-before[...]" for annotated types: not part of the path
    return out


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys a section accepts, found by following the error's path through the schema."""
    model: Any = Config
    for i, part in enumerate(loc):
        if isinstance(part, int):
            continue
        if i >= 2 and loc[i - 2] == "readers" and part in READER_TYPES:
            model = READER_TYPES[part]
            continue
        fields = getattr(model, "model_fields", None)
        field = fields.get(part) if isinstance(fields, dict) else None
        if field is None:
            return []
        annotation = field.annotation
        while getattr(annotation, "__args__", None) and not (
            isinstance(annotation, type) and issubclass(annotation, BaseModel)
        ):
            annotation = next(
                (a for a in annotation.__args__ if isinstance(a, type) and issubclass(a, BaseModel)),
                annotation.__args__[0],
            )
        model = annotation
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _message(error: Any) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(error["loc"][:-1])
        return f"unknown key (allowed: {', '.join(allowed)})" if allowed else "unknown key"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected an integer, got {value!r}"
    if kind in ("string_type",):
        return f"expected a string, got {value!r}"
    if kind in ("list_type",):
        return f"expected a list, got {value!r}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping, got {value!r}"
    if kind == "union_tag_invalid":
        return f"expected one of {ctx.get('expected_tags')}, got {ctx.get('tag')!r}"
    if kind == "union_tag_not_found":
        return f"required field is missing (one of {', '.join(repr(t) for t in READER_TYPES)})"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}, got {value!r}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<"}
        limit = next(iter(ctx.values())) if ctx else "?"
        return f"expected a value {bound[kind]} {limit}, got {value!r}"
    if kind == "string_pattern_mismatch":
        return f"{value!r} is not allowed here: use letters, digits, '-', '_' or '.', no '/', '+' or '#'"
    if kind == "too_short":
        return "must not be empty"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"])
