"""The MQTT connection's TCP options that keep an event's PUBACK from waiting on timers.

A broker sends a PUBACK per QoS 1 message, each a few bytes. mosquitto leaves Nagle's algorithm on by
default (``set_tcp_nodelay false``): while one PUBACK is unacknowledged at the TCP level, the next waits.
Linux delays the acknowledgement of what it received by up to 40 ms, hoping to piggyback it on data,
so under a steady stream of events every few dozen PUBACKs waited 40 ms: the 47 ms p99 of
``dockgate bench throughput`` at 20k reads/s (docs/benchmarks.md). The cure on the gateway's side:
acknowledge at once what the broker sent (``TCP_QUICKACK``, which the kernel clears by itself, so it is
set again after each PUBACK), and send our own small packets without waiting (``TCP_NODELAY``).

Both are best effort: a platform without them (``TCP_QUICKACK`` is Linux's), or a socket that is no plain
TCP socket (paho's WebSocket wrapper), keeps the kernel's defaults.
"""

from __future__ import annotations

import socket
from typing import Any

_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


def no_delay(sock: Any) -> bool:
    """``TCP_NODELAY`` on the connection; False when the socket does not take it."""
    return _set(sock, socket.TCP_NODELAY)


def ack_now(sock: Any) -> bool:
    """Acknowledge what arrived now instead of after the delayed-ACK timer; False when not supported."""
    return _QUICKACK is not None and _set(sock, _QUICKACK)


def _set(sock: Any, option: int) -> bool:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, option, 1)
    except (AttributeError, OSError, ValueError):  # not a TCP socket, closed, or not this platform's option
        return False
    return True
