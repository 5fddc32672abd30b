"""systemd integration without a dependency: sd_notify over $NOTIFY_SOCKET.

``Type=notify``: READY=1 once started, WATCHDOG=1 from the main loop at half of ``WatchdogSec``
(systemd passes it as $WATCHDOG_USEC), STOPPING=1 on shutdown, STATUS= a one-line summary.
Outside systemd (no $NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import os
import socket
import time

from gateway.domain.log import get_logger

log = get_logger(__name__)


class SystemdNotifier:
    def __init__(self) -> None:
        address = os.environ.get("NOTIFY_SOCKET")
        self._address: str | None = None
        if address:
            # an abstract socket is written with a leading '@'
            self._address = "\0" + address[1:] if address.startswith("@") else address
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        watchdog = usec is not None and usec.isdigit() and (pid is None or pid == str(os.getpid()))
        self.watchdog_interval: float | None = int(usec) / 2e6 if watchdog and usec else None
        self._next_watchdog = 0.0

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, message: str) -> None:
        if self._address is None:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self._address)
                sock.sendall(message.encode())
        except OSError as exc:
            log.warning("notify_failed", systemd=message.split("\n")[0], error=str(exc))

    def ready(self, status: str) -> None:
        self.notify(f"READY=1\nSTATUS={status}")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def tick(self) -> None:
        """Call from the main loop: sends WATCHDOG=1 at half of the watchdog interval."""
        if self.watchdog_interval is None:
            return
        now = time.monotonic()
        if now >= self._next_watchdog:
            self._next_watchdog = now + self.watchdog_interval
            self.notify("WATCHDOG=1")
