"""``dockgate demo``: a dock door at work, with nothing to install or configure.

Starts the LLRP reader simulator, an embedded MQTT broker and the gateway, subscribes to the gateway's
own events and prints each one as the broker delivers it, until Ctrl-C stops everything.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gateway.broker import EmbeddedBroker, free_port
from gateway.config import Config, parse_config

DEMO_CONFIG = """
gateway:
  id: gw-demo
mqtt:
  host: 127.0.0.1
  port: {broker_port}
  protocol: "3.1.1"          # the embedded broker speaks MQTT 3.1.1
  topic_prefix: dockgate
readers:
  - name: portal-3
    type: llrp
    host: 127.0.0.1
    port: {reader_port}
    antennas: [1, 2, 3, 4]
locations:
  - name: dock-3
    read_points:
      - reader: portal-3
        antennas: [1, 2, 3, 4]
pipeline:
  arrive_min_reads: 2
  arrive_window: 1s
  depart_after: 5s
outbox:
  path: {outbox}
"""


def demo_config(broker_port: int, reader_port: int, outbox: Path) -> Config:
    return parse_config(
        DEMO_CONFIG.format(broker_port=broker_port, reader_port=reader_port, outbox=outbox), "demo config"
    )


def format_event(event: dict[str, Any]) -> str:
    """One readable line per event."""
    clock = str(event.get("time", ""))[11:23]
    kind = str(event.get("type", "?")).upper()
    antennas = ",".join(str(a) for a in event.get("antennas", []))
    rssi = event.get("rssi_max")
    rssi_text = f"{rssi:.0f} dBm" if isinstance(rssi, int | float) else "-"
    return (
        f"{clock}  #{event.get('seq', '?'):<4} {kind:<9} {event.get('location', '?'):<8} "
        f"{event.get('epc', '?')}  antennas {antennas:<8} reads {event.get('reads', 0):<4} rssi {rssi_text}"
    )


def run_demo(scenario: str | None = None, log_level: str = "WARNING") -> int:
    from gateway.app import Gateway
    from gateway.cli import setup_logging
    from simulators.llrp.scenario import default_scenario_path, load_scenario
    from simulators.llrp.server import LLRPSimulator

    setup_logging(log_level)
    logging.getLogger("sllurp").setLevel(logging.ERROR)  # the gateway's own log says what matters here
    out = sys.stdout
    broker = EmbeddedBroker()
    simulator = LLRPSimulator(
        load_scenario(Path(scenario) if scenario else default_scenario_path()), port=free_port(), loop=True
    )
    workdir = tempfile.TemporaryDirectory(prefix="dockgate-demo-")
    subscriber: paho.Client | None = None
    gateway_thread: threading.Thread | None = None
    gateway: Gateway | None = None
    try:
        print(
            "dockgate demo: starting the embedded MQTT broker, the LLRP simulator and the gateway...",
            file=out,
        )
        broker.start()
        simulator.start()
        config = demo_config(broker.port, simulator.port, Path(workdir.name) / "outbox.db")
        gateway = Gateway(config)
        topic = f"{config.mqtt.topic_prefix}/{config.gateway.id}/#"
        print(f"  MQTT broker:     127.0.0.1:{broker.port} (MQTT 3.1.1)", file=out)
        print(f"  LLRP simulator:  127.0.0.1:{simulator.port} (scenario {simulator.scenario.name})", file=out)
        print(f"  subscribe too:   mosquitto_sub -h 127.0.0.1 -p {broker.port} -t '{topic}' -v", file=out)
        print("  Ctrl-C stops the demo.\n", file=out)
        out.flush()

        subscriber = paho.Client(CallbackAPIVersion.VERSION2, client_id="dockgate-demo-viewer", protocol=paho.MQTTv311)

        def on_connect(client: paho.Client, *_: Any) -> None:
            client.subscribe(topic, qos=1)

        def on_message(_client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
            if message.topic.endswith("/status"):
                print(f"gateway status: {message.payload.decode(errors='replace')}", file=out, flush=True)
                return
            try:
                print(format_event(json.loads(message.payload)), file=out, flush=True)
            except ValueError:
                print(f"{message.topic}: {message.payload!r}", file=out, flush=True)

        subscriber.on_connect = on_connect
        subscriber.on_message = on_message
        subscriber.connect("127.0.0.1", broker.port)
        subscriber.loop_start()

        gateway_thread = threading.Thread(target=gateway.run, name="gateway", daemon=True)
        gateway_thread.start()
        while gateway_thread.is_alive():
            gateway_thread.join(0.5)
        return 1  # the gateway stopped on its own: something is wrong, and its log says what
    except KeyboardInterrupt:
        print("\nstopping...", file=out, flush=True)
        return 0
    except Exception as exc:  # the demo must say what went wrong, not dump a traceback
        logging.getLogger("dockgate").error("demo failed: %s", exc)
        return 1
    finally:
        if gateway is not None and gateway_thread is not None:
            gateway.request_stop()
            gateway_thread.join(15)
        if subscriber is not None:
            subscriber.disconnect()
            subscriber.loop_stop()
        simulator.stop()
        broker.stop()
        workdir.cleanup()
