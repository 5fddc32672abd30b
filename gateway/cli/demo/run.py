"""Running the demo: broker, simulator, gateway and a subscriber up; the screen or the lines until Ctrl-C;
everything down again."""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gateway.cli.demo.broker import EmbeddedBroker
from gateway.cli.demo.lines import format_message
from gateway.cli.demo.screen import Header, render
from gateway.cli.demo.setup import (
    BOARD_HOLDER,
    DemoError,
    antennas_needed,
    demo_config,
    scenario_path,
    write_board_token,
)
from gateway.cli.demo.shipments import DemoShipments
from gateway.cli.demo.watch import DoorWatch
from gateway.domain.log import get_logger
from gateway.ops.logs import setup_logging
from gateway.ops.net import free_port

if TYPE_CHECKING:
    from rich.console import RenderableType

    from gateway.app import Gateway

log = get_logger(__name__)


class _ListHandler(logging.Handler):
    """Log lines into the live view instead of scrambling the screen."""

    def __init__(self, watch: DoorWatch) -> None:
        super().__init__(logging.WARNING)
        self.watch = watch

    def emit(self, record: logging.LogRecord) -> None:
        self.watch.log.append(f"{record.levelname.lower()}: {record.getMessage()}"[:160])


def run_demo(
    scenario: str | None = None,
    log_level: str = "WARNING",
    epcis: bool = False,
    live: bool | None = None,
    out: TextIO | None = None,
) -> int:
    """Run until Ctrl-C. ``live``: the rich view (default: when stdout is a terminal)."""
    from gateway.app import Gateway
    from simulators.llrp.scenario import ScenarioError, load_scenario
    from simulators.llrp.server import LLRPSimulator

    out = out or sys.stdout
    live = out.isatty() if live is None else live
    setup_logging(log_level)
    logging.getLogger("sllurp").setLevel(logging.ERROR)  # the gateway's own log says what matters here
    try:
        loaded = load_scenario(scenario_path(scenario))
    except (DemoError, ScenarioError) as exc:
        print(f"dockgate demo: {exc}", file=sys.stderr)
        return 2
    broker = EmbeddedBroker()
    simulator = LLRPSimulator(loaded, port=free_port(), loop=True, antennas=antennas_needed(loaded))
    workdir = tempfile.TemporaryDirectory(prefix="dockgate-demo-")
    subscriber: paho.Client | None = None
    gateway_thread: threading.Thread | None = None
    gateway: Gateway | None = None
    handler: _ListHandler | None = None
    office_stop = threading.Event()
    try:
        print("dockgate demo: starting the embedded MQTT broker, the LLRP simulator and the gateway...", file=out)
        out.flush()
        broker.start()
        simulator.start()
        work = Path(workdir.name)
        config = demo_config(loaded, broker.port, simulator.port, work / "outbox.db", epcis, write_board_token(work))
        gateway = Gateway(config)
        watch = DoorWatch(config)
        gateway.tap_reads(watch.tap_batch)
        if loaded.shipments:  # the scenario's back office posts and closes its shipments
            office = DemoShipments(loaded, gateway.commands)
            gateway.tap_reads(office.tap_batch)
            threading.Thread(target=office.run, args=(office_stop,), name="demo-office", daemon=True).start()
        topic = f"{config.mqtt.topic_prefix}/{config.gateway.id}/#"
        header = Header(
            scenario=loaded.name,
            broker=f"127.0.0.1:{broker.port} (MQTT 3.1.1)",
            subscribe=f"mosquitto_sub -h 127.0.0.1 -p {broker.port} -t '{topic}' -v",
            started=time.monotonic(),
        )
        if live:
            handler = _ListHandler(watch)
            root = logging.getLogger()
            for existing in list(root.handlers):
                root.removeHandler(existing)
            root.addHandler(handler)
        else:
            print(f"  MQTT broker:     {header.broker}", file=out)
            print(f"  LLRP simulator:  127.0.0.1:{simulator.port} (scenario {loaded.name})", file=out)
            print(f"  subscribe too:   {header.subscribe}", file=out)
            if epcis:
                print(f"  EPCIS:           {config.mqtt.topic_prefix}/{config.gateway.id}/epcis/<location>", file=out)
            print("  Ctrl-C stops the demo.\n", file=out)
            out.flush()

        def on_connect(client: paho.Client, *_: Any) -> None:
            client.subscribe(topic, qos=1)

        def on_message(_client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
            payload = bytes(message.payload)
            kind, content = watch.message(message.topic, payload)
            line = None if live else format_message(message.topic, payload, kind, content)
            if line is not None:
                print(line, file=out, flush=True)

        subscriber = paho.Client(CallbackAPIVersion.VERSION2, client_id="dockgate-demo-viewer", protocol=paho.MQTTv311)
        subscriber.on_connect = on_connect
        subscriber.on_message = on_message
        subscriber.connect("127.0.0.1", broker.port)
        subscriber.loop_start()

        gateway_thread = threading.Thread(target=gateway.run, name="gateway", daemon=True)
        gateway_thread.start()
        board = _board_link(gateway, gateway_thread)
        print(f"Door board: {board}" if board else "Door board: not served (see the log)", file=out, flush=True)
        if live:
            _live(watch, gateway, gateway_thread, header, epcis, out)
        else:
            while gateway_thread.is_alive():
                gateway_thread.join(0.5)
        return 1  # the gateway stopped on its own: something is wrong, and its log says what
    except KeyboardInterrupt:
        print("\nstopping...", file=out, flush=True)
        return 0
    except Exception as exc:  # the demo must say what went wrong, not dump a traceback
        log.error("demo_failed", error=str(exc))
        return 1
    finally:
        office_stop.set()
        if gateway is not None and gateway_thread is not None:
            gateway.request_stop()
            gateway_thread.join(15)
        if subscriber is not None:
            subscriber.disconnect()
            subscriber.loop_stop()
        simulator.stop()
        broker.stop()
        workdir.cleanup()
        if handler is not None:
            logging.getLogger().removeHandler(handler)


def _board_link(gateway: Gateway, thread: threading.Thread, timeout: float = 10.0) -> str | None:
    """A one-time login link to the door board, once the gateway listens and has published its first
    snapshot (so the board shows the doors at once); None if it does not listen."""
    from gateway.api.session import login_link

    deadline = time.monotonic() + timeout
    while not gateway.snapshot.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if gateway.health is None:
        return None
    return f"http://127.0.0.1:{gateway.health.port}{login_link(gateway.health.app, BOARD_HOLDER)}"


def _live(
    watch: DoorWatch, gateway: Gateway, thread: threading.Thread, header: Header, epcis: bool, out: TextIO
) -> None:
    """The screen, redrawn four times a second from the watch and the gateway's last snapshot."""
    from rich.console import Console
    from rich.live import Live

    def screen() -> RenderableType:
        return render(watch.view(), gateway.snapshot, header, epcis, list(watch.log))

    console = Console(file=out)
    with Live(screen(), console=console, refresh_per_second=4, screen=False, transient=False) as view:
        while thread.is_alive():
            thread.join(0.25)
            view.update(screen())
