"""The simulator's HTTP(S) server: the IoT Device Interface endpoints dockgate uses, with Basic auth.

GET /api/v1/status, POST /api/v1/profiles/inventory/presets/{id}/start, POST /api/v1/profiles/inventory/
start (a transient InventoryRequest, checked), POST /api/v1/profiles/stop, GET /api/v1/data/stream (chunked,
one JSON event per line, CRLF keep-alive when idle). One stream at a time: a new one ends the older, as the
R700 ends the oldest of a user's connections.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from simulators.impinj_iot.encoding import error_body, rfc3339
from simulators.impinj_iot.reader import SimReader

log = logging.getLogger("simulators.impinj_iot")

_PRESET_START = re.compile(r"^/api/v1/profiles/inventory/presets/([^/]+)/start$")
TICK_S = 0.02


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    reader: SimReader
    auth: str
    keepalive: float
    tls: ssl.SSLContext | None
    closing: threading.Event

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            try:
                request.settimeout(5)
                request.do_handshake()
                request.settimeout(None)
            except (OSError, ssl.SSLError) as exc:
                log.info("TLS handshake failed from %s: %s", client_address[0], exc)
                return
        super().finish_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _answer(self, status: int, body: bytes = b"", extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _gate(self) -> bool:
        """False when answered already: rebooting, booting, 401."""
        reader = self.server.reader
        with reader.cond:
            refused = reader.refusal(time.monotonic())
        if refused is None and self.headers.get("Authorization", "") != self.server.auth:
            refused = (401, "Unauthorized")
        if refused is not None:
            status, message = refused
            log.info("%s %s -> %d %s", self.command, self.path, status, message)
            extra = {"WWW-Authenticate": 'Basic realm="impinj"'} if status == 401 else None
            self._answer(status, error_body(message), extra)
            return False
        return True

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def do_GET(self) -> None:
        if not self._gate():
            return
        reader = self.server.reader
        if self.path == "/api/v1/status":
            with reader.cond:
                status: dict[str, Any] = {
                    "status": reader.state,
                    "time": rfc3339(time.time()),
                    "serialNumber": "SIM-0001",
                }
                if reader.active:
                    status["activePreset"] = {"id": reader.active, "profile": "inventory"}
            self._answer(200, json.dumps(status).encode())
        elif self.path == "/api/v1/data/stream":
            self._stream()
        else:
            self._answer(404, error_body("Not found"))

    def do_POST(self) -> None:
        if not self._gate():
            return
        reader = self.server.reader
        now = time.monotonic()
        try:
            body = self._body()
        except ValueError:
            self._answer(400, error_body("The request body is not JSON"))
            return
        preset = _PRESET_START.match(self.path)
        with reader.cond:
            if self.path == "/api/v1/profiles/stop":
                reader.stop("by a client")
                self._answer(204)
                return
            if preset is None and self.path != "/api/v1/profiles/inventory/start":
                self._answer(404, error_body("Not found"))
                return
            if reader.state == "running":
                self._answer(409, error_body("A profile is already running", f"active preset: {reader.active}"))
                return
            if preset is not None:
                if preset.group(1) not in reader.presets:
                    self._answer(404, error_body("Preset not found", f"no preset {preset.group(1)!r}"))
                    return
                reader.start(preset.group(1), frozenset(range(1, reader.antennas + 1)), now)
            else:
                antennas, problem = _check_inventory(body, reader.antennas)
                if problem is not None:
                    self._answer(400, error_body("Invalid inventory request", problem[1], problem[0]))
                    return
                reader.start("transient", antennas, now)
        self._answer(204)

    def _stream(self) -> None:
        reader, keepalive = self.server.reader, self.server.keepalive
        with reader.cond:
            reader.stream_gen += 1
            gen = reader.stream_gen
            reader.cond.notify_all()
        log.info("stream opened (%d)", gen)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        last_sent = time.monotonic()
        try:
            while not self.server.closing.is_set():
                with reader.cond:
                    reader.cond.wait(0.05)
                    now = time.monotonic()
                    if reader.stream_gen != gen:
                        break
                    if reader.is_stalled(gen, now):
                        continue
                    batch = [reader.lines.popleft() for _ in range(min(len(reader.lines), 2000))]
                if batch:
                    data = ("\n".join(batch) + "\n").encode()
                elif now - last_sent >= keepalive:
                    data = b"\r\n"
                else:
                    continue
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                last_sent = now
        except OSError as exc:
            log.info("stream %d: client went away: %s", gen, exc)
        self.close_connection = True
        log.info("stream closed (%d)", gen)


def _check_inventory(body: Any, antennas: int) -> tuple[frozenset[int], tuple[str, str] | None]:
    """The antennas of a transient InventoryRequest, or (path, problem) where it is invalid."""
    if not isinstance(body, dict) or not isinstance(body.get("antennaConfigs"), list) or not body["antennaConfigs"]:
        return frozenset(), ("#/antennaConfigs", "antennaConfigs: a non-empty list is required")
    ports: set[int] = set()
    for i, config in enumerate(body["antennaConfigs"]):
        port = config.get("antennaPort") if isinstance(config, dict) else None
        if not isinstance(port, int) or not 1 <= port <= antennas:
            return frozenset(), (f"#/antennaConfigs/{i}/antennaPort", f"expected an antenna 1-{antennas}")
        power = config.get("transmitPowerCdbm")
        if not isinstance(power, int) or not 1000 <= power <= 3300:
            return frozenset(), (f"#/antennaConfigs/{i}/transmitPowerCdbm", "expected 1000-3300 cdBm")
        ports.add(port)
    return frozenset(ports), None


class ImpinjIotSimulator:
    """``start()`` listens (port 0: a free one, then ``self.port``) and runs the clock; ``stop()`` ends both."""

    def __init__(
        self,
        reader: SimReader,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        user: str = "root",
        password: str = "impinj",
        keepalive: float = 1.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.reader = reader
        self.server = _Server((host, port), _Handler)
        self.server.reader = reader
        self.server.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self.server.keepalive = keepalive
        self.server.tls = tls
        self.server.closing = threading.Event()
        self.port: int = self.server.server_address[1]
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self.server.serve_forever, args=(0.1,), name="impinj-sim-http", daemon=True),
            threading.Thread(target=self._clock, name="impinj-sim-clock", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _clock(self) -> None:
        while not self.server.closing.wait(TICK_S):
            self.reader.tick(time.monotonic())

    def stop(self) -> None:
        self.server.closing.set()
        self.server.shutdown()
        self.server.server_close()
        for thread in self._threads:
            thread.join(5)
