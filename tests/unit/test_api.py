"""The HTTP API over real HTTP: a real ApiServer on port 0, a fake snapshot, and a thread playing the main loop."""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.routing import APIRoute
from openapi_spec_validator import validate
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from gateway.api.auth import ApiSetupError, load_holders
from gateway.api.server import ApiServer
from gateway.config.service import ApiSettings, ApiToken
from gateway.ops.snapshot import GatewaySnapshot, OutboxFigures
from gateway.shipments.commands import Command, CommandPort, Reply, refused

pytestmark = pytest.mark.timeout(30)

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
OPERATOR, VIEWER = "op-secret-4f1c9e", "view-secret-8b2d7a"
EPC = "3034257BF7194E4000000001"
SHIPMENT = {
    "id": "S-1",
    "location": "dock-1",
    "direction": "out",
    "state": "loading",
    "expected": 2,
    "seen": 1,
    "missing": [EPC],
    "unexpected": [],
    "wrong_door": [{"epc": EPC, "location": "dock-2"}],
    "wrong_direction": [],
    "opened": "2026-12-03T10:00:00Z",
    "closed": None,
    "deadline": None,
    "acknowledged": False,
}
DOOR = {
    "location": "dock-1",
    "state": "loading",
    "shipment": "S-1",
    "direction": "out",
    "seen": 1,
    "expected": 2,
    "missing": [EPC],
}
SNAPSHOT = GatewaySnapshot(
    gateway="gw-1",
    taken=time.time() + 3600,  # "just turned" for the whole test
    started=True,
    outbox=OutboxFigures(is_open=True),
    shipments={"S-1": SHIPMENT, "S-2": {**SHIPMENT, "id": "S-2", "location": "dock-2", "state": "verified"}},
    doors={"dock-1": DOOR, "dock-2": {"location": "dock-2", "state": "idle", "shipment": None}},
)


class MainLoop:
    """Plays the gateway's main loop: takes commands and answers them as the shipment book would."""

    def __init__(self, port: CommandPort) -> None:
        self.port = port
        self.received: list[Command] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-main-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            for pending in self.port.take():
                self.received.append(pending.command)
                pending.answer(self._answer(pending.command))

    def _answer(self, command: Command) -> Reply:
        if command.action == "post":
            return Reply(True, 201, shipment={**SHIPMENT, "id": command.shipment_id, "state": "open"})
        if command.shipment_id not in SNAPSHOT.shipments:
            return refused(404, f"no shipment {command.shipment_id!r}", "id")
        return Reply(True, 200, shipment=dict(SNAPSHOT.shipments[command.shipment_id]))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _settings(tmp_path: Path, **tls: Path) -> ApiSettings:
    (tmp_path / "op.token").write_text(OPERATOR + "\n")
    (tmp_path / "view.token").write_text(VIEWER)
    for name in ("op.token", "view.token"):
        (tmp_path / name).chmod(0o600)
    tokens = [
        ApiToken(name="backoffice", file=tmp_path / "op.token", role="operator"),
        ApiToken(name="wallboard", file=tmp_path / "view.token", role="viewer"),
    ]
    return ApiSettings(tokens=tokens, **tls)


class Api:
    def __init__(self, server: ApiServer, loop: MainLoop, registry: CollectorRegistry, scheme: str = "http") -> None:
        self.server, self.loop, self.registry = server, loop, registry
        self.base = f"{scheme}://127.0.0.1:{server.port}"
        self.context: ssl.SSLContext | None = None

    def call(
        self, method: str, path: str, token: str | None = None, body: bytes | None = None, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.base + path, data=body, method=method)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        for key, value in headers.items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.context) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def json(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        status, _headers, raw = self.call(method, path, token, data)
        doc = json.loads(raw)
        _check_against_openapi(method, path, status, doc)
        return status, doc


def _start(tmp_path: Path, settings: ApiSettings, scheme: str = "http") -> Api:
    port = CommandPort()
    registry = CollectorRegistry()
    server = ApiServer(
        "127.0.0.1", 0, lambda: SNAPSHOT, lambda: generate_latest(registry), port, settings, registry=registry
    )
    server.start()
    return Api(server, MainLoop(port), registry, scheme)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    running = _start(tmp_path, _settings(tmp_path))
    yield running
    running.server.stop()
    running.loop.stop()


def _order(**changes: Any) -> dict[str, Any]:
    return {"id": "S-9", "location": "dock-1", "direction": "out", "items": [EPC], **changes}


# ---- the OpenAPI document --------------------------------------------------------------------------------


def _openapi() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())
    return doc


def _check_against_openapi(method: str, path: str, status: int, body: Any) -> None:
    """A real answer validates against the response schema docs/openapi.yaml gives for it."""
    doc = _openapi()
    route = path.split("?", 1)[0]
    for template, item in doc["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), route) and method.lower() in item:
            break
    else:
        raise AssertionError(f"{method} {route} is not in docs/openapi.yaml")
    responses = item[method.lower()]["responses"]
    assert str(status) in responses, f"{method} {template}: status {status} is not documented"
    response = responses[str(status)]
    if "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({"allOf": [schema], "components": doc["components"]}).validate(body)


def test_openapi_document_is_valid() -> None:
    validate(_openapi())


def test_every_route_is_in_openapi(api: Api) -> None:
    paths = _openapi()["paths"]
    routes = [r for r in api.server.app.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 11
    for route in routes:
        assert route.path in paths, route.path
        for method in route.methods:
            assert method.lower() in paths[route.path], f"{method} {route.path}"


# ---- auth ------------------------------------------------------------------------------------------------


def test_no_token_or_wrong_token_is_401(api: Api) -> None:
    for token in (None, "wrong", OPERATOR + "x"):
        status, headers, raw = api.call("GET", "/api/v1/shipments", token)
        assert status == 401
        assert headers["www-authenticate"] == "Bearer"
        assert json.loads(raw)["result"] == "refused"
        _check_against_openapi("GET", "/api/v1/shipments", status, json.loads(raw))
    status, _h, _b = api.call("GET", "/api/v1/shipments", None, Authorization=f"Basic {OPERATOR}")
    assert status == 401
    assert not api.loop.received


def test_viewer_reads_but_cannot_write(api: Api) -> None:
    assert api.json("GET", "/api/v1/shipments", VIEWER)[0] == 200
    status, doc = api.json("POST", "/api/v1/shipments", VIEWER, _order())
    assert status == 403 and "wallboard" in doc["reason"]
    for method, path in (("DELETE", "/api/v1/shipments/S-1"), ("POST", "/api/v1/shipments/S-1/close")):
        assert api.json(method, path, VIEWER)[0] == 403
    assert not api.loop.received


def test_no_tokens_configured_is_503(tmp_path: Path) -> None:
    running = _start(tmp_path, ApiSettings())
    try:
        status, doc = running.json("GET", "/api/v1/shipments", OPERATOR)
        assert status == 503 and doc["reason"] == "no API tokens configured (api.tokens)"
        assert running.call("GET", "/healthz")[0] == 200
    finally:
        running.server.stop()
        running.loop.stop()


def test_unreadable_token_file_names_the_setting(tmp_path: Path) -> None:
    settings = ApiSettings(tokens=[ApiToken(name="x", file=tmp_path / "absent")])
    with pytest.raises(ApiSetupError, match=r"api\.tokens\[0\]\.file: cannot read .*absent: No such file"):
        ApiServer("127.0.0.1", 0, lambda: SNAPSHOT, bytes, CommandPort(), settings)


def test_relative_token_file_from_credentials_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "api.token").write_text(OPERATOR)
    (tmp_path / "api.token").chmod(0o644)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    settings = ApiSettings(tokens=[ApiToken(name="ops", file=Path("api.token"), role="operator")])

    (holder,) = load_holders(settings)
    assert holder.name == "ops" and OPERATOR not in repr(holder)


def test_token_never_in_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api.json("GET", "/api/v1/shipments", OPERATOR + "-wrong")
    api.json("POST", "/api/v1/shipments", VIEWER, _order())
    api.json("POST", "/api/v1/shipments", OPERATOR, _order())
    api.json("GET", "/api/v1/shipments/nope", OPERATOR)
    assert "api_refused" in caplog.text and "status=401" in caplog.text and "status=403" in caplog.text
    for secret in (OPERATOR, VIEWER, "Bearer", "uthorization"):
        assert secret not in caplog.text


def test_token_file_readable_by_others_is_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = _settings(tmp_path)
    (tmp_path / "view.token").chmod(0o644)

    load_holders(settings)
    assert "token_file_open" in caplog.text and "api.tokens[1].file" in caplog.text
    assert VIEWER not in caplog.text


# ---- shipments and doors ---------------------------------------------------------------------------------


def test_operator_posts_a_shipment(api: Api) -> None:
    status, doc = api.json("POST", "/api/v1/shipments", OPERATOR, _order())
    assert status == 201
    assert doc["result"] == "accepted" and doc["command"] == "post" and doc["id"] == "S-9"
    (command,) = api.loop.received
    assert (command.action, command.shipment_id, command.source, command.actor) == ("post", "S-9", "http", "backoffice")
    assert command.order is not None and command.order.items == [EPC]
    assert b'dockgate_api_requests_total{route="/api/v1/shipments",status="201"} 1.0' in generate_latest(api.registry)


def test_bad_identity_is_422_naming_the_field(api: Api) -> None:
    status, doc = api.json("POST", "/api/v1/shipments", OPERATOR, _order(items=["not-an-epc"]))
    assert status == 422
    assert doc["result"] == "refused" and doc["field"] == "items.0" and "not-an-epc" in doc["reason"]
    status, doc = api.json("POST", "/api/v1/shipments", OPERATOR, _order(direction="sideways"))
    assert (status, doc["field"]) == (422, "direction")
    assert not api.loop.received


def test_malformed_json_is_422(api: Api) -> None:
    status, doc = api.json("POST", "/api/v1/shipments", OPERATOR, b'{"id": "S-1",')
    assert status == 422 and doc["field"] == "body" and "not JSON" in doc["reason"]
    status, doc = api.json("POST", "/api/v1/shipments", OPERATOR, b"[1, 2]")
    assert status == 422 and doc["field"] == "body"


def test_oversize_body_is_413(api: Api) -> None:
    """Refused on the declared length, before the body is read (a client still sending sees a reset)."""
    with socket.create_connection(("127.0.0.1", api.server.port), timeout=10) as conn:
        conn.sendall(
            b"POST /api/v1/shipments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {OPERATOR}\r\nContent-Length: {8 * 1024 * 1024 + 1}\r\n\r\n".encode()
            + b'{"id": "S-9"'
        )
        head, _, body = conn.makefile("rb").read().partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    doc = json.loads(body)
    assert doc["result"] == "refused" and "exceeds" in doc["reason"]
    _check_against_openapi("POST", "/api/v1/shipments", 413, doc)
    assert not api.loop.received


def test_list_and_filter_shipments(api: Api) -> None:
    status, doc = api.json("GET", "/api/v1/shipments", VIEWER)
    assert status == 200 and [s["id"] for s in doc] == ["S-1", "S-2"]
    assert [s["id"] for s in api.json("GET", "/api/v1/shipments?state=verified", VIEWER)[1]] == ["S-2"]
    assert [s["id"] for s in api.json("GET", "/api/v1/shipments?location=dock-1", VIEWER)[1]] == ["S-1"]
    assert api.json("GET", "/api/v1/shipments?state=open&location=dock-1", VIEWER)[1] == []


def test_get_one_shipment_and_door(api: Api) -> None:
    assert api.json("GET", "/api/v1/shipments/S-1", VIEWER) == (200, SHIPMENT)
    assert api.json("GET", "/api/v1/doors/dock-1", VIEWER) == (200, DOOR)
    assert api.json("GET", "/api/v1/doors/dock-2", VIEWER)[1]["state"] == "idle"
    status, doc = api.json("GET", "/api/v1/shipments/S-404", VIEWER)
    assert status == 404 and "S-404" in doc["reason"]
    assert api.json("GET", "/api/v1/doors/dock-9", VIEWER)[0] == 404


def test_cancel_close_acknowledge(api: Api) -> None:
    assert api.json("DELETE", "/api/v1/shipments/S-1", OPERATOR)[0] == 200
    status, doc = api.json("POST", "/api/v1/shipments/S-2/close", OPERATOR)
    assert status == 200 and doc["command"] == "close" and doc["shipment"]["id"] == "S-2"
    assert api.json("POST", "/api/v1/shipments/S-1/acknowledge", OPERATOR)[0] == 200
    status, doc = api.json("DELETE", "/api/v1/shipments/S-404", OPERATOR)
    assert status == 404 and doc["result"] == "refused" and doc["field"] == "id"
    actions = [(c.action, c.shipment_id, c.actor) for c in api.loop.received]
    assert actions == [
        ("cancel", "S-1", "backoffice"),
        ("close", "S-2", "backoffice"),
        ("acknowledge", "S-1", "backoffice"),
        ("cancel", "S-404", "backoffice"),
    ]


# ---- the ops endpoints, unchanged ------------------------------------------------------------------------


def test_metrics_healthz_readyz_unchanged(api: Api) -> None:
    status, headers, body = api.call("GET", "/metrics")
    assert status == 200 and headers["content-type"] == CONTENT_TYPE_LATEST and b"dockgate_api_requests" in body
    status, headers, body = api.call("GET", "/healthz")
    assert status == 200 and body.startswith(b"ok: main loop turned ") and body.endswith(b"s ago\n")
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert api.call("GET", "/readyz")[::2] == (200, b"ready\n")


def test_healthz_and_readyz_fail_like_before(tmp_path: Path) -> None:
    stale = GatewaySnapshot(gateway="gw-1", taken=time.time() - 60)
    server = ApiServer("127.0.0.1", 0, lambda: stale, bytes, CommandPort(), ApiSettings())
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        for path, expected in (
            ("/healthz", rb"stalled: main loop turned 6\d\.\ds ago\n"),
            ("/readyz", rb"not ready: outbox not open; readers not started\n"),
        ):
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(base + path, timeout=10)
            assert caught.value.code == 503 and re.fullmatch(expected, caught.value.read())
    finally:
        server.stop()


def test_bind_error_is_oserror(api: Api) -> None:
    with pytest.raises(OSError):
        ApiServer("127.0.0.1", api.server.port, lambda: SNAPSHOT, bytes, CommandPort(), ApiSettings())


# ---- HTTPS -----------------------------------------------------------------------------------------------


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "api.crt", tmp_path / "api.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_https(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    running = _start(tmp_path, _settings(tmp_path, tls_cert=cert, tls_key=key), scheme="https")
    try:
        running.context = ssl.create_default_context(cafile=str(cert))
        assert running.json("GET", "/api/v1/doors/dock-1", VIEWER) == (200, DOOR)
        assert running.call("GET", "/healthz")[0] == 200
        with pytest.raises((urllib.error.URLError, ConnectionError)):  # the same listener does not speak plain HTTP
            urllib.request.urlopen(f"http://127.0.0.1:{running.server.port}/healthz", timeout=5)
    finally:
        running.server.stop()
        running.loop.stop()


# ---- owner scope ---------------------------------------------------------------------------------------


def test_an_owner_scoped_token_sees_no_other_owners_item_in_doors_or_shipments(tmp_path: Path) -> None:
    from gateway.config.transparency import OwnerSettings
    from simulators.llrp.epc import sscc96

    acme, globex = sscc96("0614141", "1000000001"), sscc96("0614142", "1000000002")
    shipment = {**SHIPMENT, "missing": [acme, globex], "wrong_door": [{"epc": globex, "location": "dock-2"}]}
    snapshot = GatewaySnapshot(
        gateway="gw-1",
        taken=time.time() + 3600,
        started=True,
        shipments={"S-1": shipment},
        doors={"dock-1": {**DOOR, "missing": [acme, globex], "unexpected": [{"epc": globex, "uri": None}]}},
    )
    (tmp_path / "acme.token").write_text("acme-secret-51a")
    (tmp_path / "acme.token").chmod(0o600)
    settings = _settings(tmp_path).model_copy(
        update={
            "tokens": [*_settings(tmp_path).tokens, ApiToken(name="acme", file=tmp_path / "acme.token", owner="acme")]
        }
    )
    owners = [
        OwnerSettings(name="acme", company_prefixes=["0614141"]),
        OwnerSettings(name="globex", company_prefixes=["0614142"]),
    ]
    server = ApiServer("127.0.0.1", 0, lambda: snapshot, lambda: b"", CommandPort(), settings, owners=owners)
    server.start()
    try:
        running = Api(server, MainLoop(CommandPort()), CollectorRegistry())
        for path in ("/api/v1/doors/dock-1", "/api/v1/shipments", "/api/v1/shipments/S-1"):
            status, doc = running.json("GET", path, "acme-secret-51a")
            text = json.dumps(doc)
            assert status == 200 and acme in text and globex not in text, (path, text)
            status, doc = running.json("GET", path, OPERATOR)
            assert status == 200 and globex in json.dumps(doc)  # the unscoped token sees everything
        running.loop.stop()
    finally:
        server.stop()
