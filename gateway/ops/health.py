"""/metrics, /healthz and /readyz over HTTP on ``metrics.listen``, from the gateway's latest snapshot.

/healthz: the main loop turned within the last ``HEALTHY_TICK_S`` (a stuck loop fails it, so systemd
or an orchestrator can restart the gateway). /readyz: the outbox is open and writable and the readers
are started. Neither reads a part of the gateway: only the snapshot the main loop publishes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from gateway.domain.log import get_logger
from gateway.ops.snapshot import GatewaySnapshot

log = get_logger(__name__)

HEALTHY_TICK_S = 10.0  # /healthz fails when the main loop has not turned for this long


class HealthServer:
    def __init__(
        self, host: str, port: int, snapshot: Callable[[], GatewaySnapshot], metrics: Callable[[], bytes]
    ) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler(snapshot, metrics))
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._thread = None


def _handler(snapshot: Callable[[], GatewaySnapshot], metrics: Callable[[], bytes]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "dockgate"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, metrics(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                age = time.time() - snapshot().taken
                ok = age < HEALTHY_TICK_S
                self._send(200 if ok else 503, f"{'ok' if ok else 'stalled'}: main loop turned {age:.1f}s ago\n")
            elif path == "/readyz":
                problems = snapshot().readiness_problems()
                body = "ready\n" if not problems else "not ready: " + "; ".join(problems) + "\n"
                self._send(200 if not problems else 503, body)
            else:
                self._send(404, "not found: try /metrics, /healthz or /readyz\n")

        def _send(self, code: int, body: bytes | str, content_type: str = "text/plain; charset=utf-8") -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http_request", line=format % args)

    return Handler
