"""``ApiServer``: uvicorn in a daemon thread on a socket bound at construction (port 0 works; a bind
error raises ``OSError`` there), HTTPS when ``api.tls_cert``/``api.tls_key`` are set.

Threading: uvicorn's event loop runs on the ``api-http`` thread; request handlers read the snapshot
and hand commands to the ``CommandPort``, never a part of the gateway. uvicorn's access log is off: it
would log nothing secret, but ours (refusals only, no headers) is the one place to look.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import uvicorn
from prometheus_client import CollectorRegistry, Counter, generate_latest

from gateway.api.app import create_app
from gateway.api.auth import load_holders
from gateway.api.context import Api
from gateway.config.service import ApiSettings
from gateway.config.transparency import OwnerSettings
from gateway.core.owners import Owners
from gateway.domain.log import get_logger
from gateway.ops.snapshot import GatewaySnapshot
from gateway.reports.report import ReportSource
from gateway.shipments.commands import CommandPort

log = get_logger(__name__)


class ApiServer:
    def __init__(
        self,
        host: str,
        port: int,
        snapshot: Callable[[], GatewaySnapshot],
        metrics: Callable[[], bytes],
        commands: CommandPort,
        settings: ApiSettings,
        registry: CollectorRegistry | None = None,
        owners: Sequence[OwnerSettings] = (),
        reports: ReportSource | None = None,
        revocations: Path | None = None,
    ) -> None:
        """``registry``: where ``dockgate_api_requests_total`` is registered (the one ``metrics`` renders);
        None: a registry of its own, rendered after ``metrics``. ``reports``: where ``GET /api/v1/reports``
        reads (``ReportSource.of(config)``); None: it answers 503. ``revocations``: the file that keeps logged-out
        sessions refused across restarts (``revocations_beside(outbox)``); None: in memory only."""
        holders = load_holders(settings)  # ApiSetupError naming api.tokens[i].file
        own = CollectorRegistry() if registry is None else None
        requests = Counter(
            "dockgate_api_requests",
            "HTTP requests answered, per route and status.",
            ["route", "status"],
            registry=registry or own,
        )
        render = metrics if own is None else (lambda: metrics() + _render(own))
        local = host in ("127.0.0.1", "::1", "localhost")
        extra: dict[str, object] = {"reports": reports} if reports is not None else {}
        api = Api(
            snapshot,
            render,
            commands,
            holders,
            requests,
            Owners(owners),
            local,
            extra,
            session_ttl=settings.session_ttl,
            revocations=revocations,  # loaded here, rewritten at each logout
        )
        self.app = create_app(api)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, port))
            self._socket.listen(128)
        except OSError:
            self._socket.close()
            raise
        self.port: int = self._socket.getsockname()[1]
        self.tls = settings.tls_cert is not None
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            server_header=False,
            ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
            ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
            timeout_graceful_shutdown=2,
        )
        try:
            config.load()  # a bad certificate or key is an error here, not on the thread
        except BaseException:
            self._socket.close()
            raise
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.run, kwargs={"sockets": [self._socket]}, name="api-http", daemon=True
            )
            self._thread.start()
            deadline = time.monotonic() + 5.0
            while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
                time.sleep(0.01)

    def stop(self) -> None:
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(5)
            if self._thread.is_alive():
                log.warning("api_stop_slow", detail="the HTTP thread did not stop within 5s")
            self._thread = None
        self._socket.close()


def _render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
