"""An embedded MQTT broker for the demo: amqtt (pure Python, MQTT 3.1.1) in a child process.

A child process keeps amqtt's asyncio loop and its logging away from the gateway. Not for
production or throughput tests: use mosquitto there. The child is this module:

    python -m gateway.cli.demo.broker --port 1883
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import subprocess
import sys
import time

from gateway.ops.net import accepts, free_port

CHILD_MODULE = "gateway.cli.demo.broker"  # python -m this: the broker process


class EmbeddedBroker:
    """``start()`` returns once the broker accepts connections on ``host:port``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        if self._process is not None:
            return
        self._process = subprocess.Popen(
            [sys.executable, "-m", CHILD_MODULE, "--host", self.host, "--port", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal goes to the demo, which stops the broker itself
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"embedded MQTT broker exited with code {self._process.returncode}")
            if accepts(self.host, self.port):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"embedded MQTT broker did not listen on {self.host}:{self.port} within {timeout:.0f}s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _serve(host: str, port: int) -> None:
    from amqtt.broker import Broker

    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    await broker.start()
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
    await broker.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description="embedded MQTT broker for the dockgate demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    ns = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    asyncio.run(_serve(ns.host, ns.port))


if __name__ == "__main__":
    main()
