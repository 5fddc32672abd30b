"""``dockgate demo``: a dock door at work, with nothing to install or configure.

Starts the LLRP reader simulator on a scenario from the library, an embedded MQTT broker (a child
process) and the gateway (a thread), subscribes to the gateway's own topics, and shows what happens:

- on a terminal, a live view (rich): the door's readers and antennas with read rates, the tags present
  and which way they move, the last events as the broker delivered them, the outbox and the broker; with
  ``--epcis`` also the EPCIS documents;
- otherwise (a pipe, a log file, the tests), one plain line per delivered message.

Ctrl-C stops everything, in both modes. The read rates come from a tap on the reads handed to the
pipeline; everything else is what a consumer sees on the broker, or the gateway's own counters.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from gateway.broker import EmbeddedBroker, free_port
from gateway.config import Config, parse_config
from gateway.domain.model import TagRead

if TYPE_CHECKING:
    from rich.console import RenderableType

    from gateway.app import Gateway
    from simulators.llrp.scenario import Scenario

DEFAULT_SCENARIO = "in-and-out"
GATEWAY_ID = "gw-demo"
# Where the demo's sites are, as GS1 location numbers (the GS1 example company prefix 0614141):
# dock-N is urn:epc:id:sgln:0614141.0000N.0, its door's read point extension 1.
_DEFAULT_SITE: dict[str, Any] = {
    "readers": [{"name": "portal-3", "type": "llrp", "host": "127.0.0.1", "antennas": [1, 2, 3, 4]}],
    "locations": [
        {
            "name": "dock-3",
            "read_points": [
                {"reader": "portal-3", "antennas": [1, 2], "side": "outside"},
                {"reader": "portal-3", "antennas": [3, 4], "side": "inside"},
            ],
        }
    ],
}


class DemoError(Exception):
    """The demo cannot start: says what and what to do."""


# ---- set-up ----------------------------------------------------------------------------------------------


def scenario_path(name: str | None) -> Path:
    """A library scenario by name (``in-and-out``), a simulator scenario (``quick``), or a file path."""
    from simulators.llrp.scenario import default_scenario_path
    from simulators.scenarios import library, library_dir

    name = name or DEFAULT_SCENARIO
    candidates = [library_dir() / f"{name}.yaml", default_scenario_path().parent / f"{name}.yaml", Path(name)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    names = ", ".join(p.stem for p in library())
    raise DemoError(f"--scenario {name}: no such scenario in the library ({names}) and no such file")


def demo_config(scenario: Scenario, broker_port: int, reader_port: int, outbox: Path, epcis: bool) -> Config:
    """The gateway config for a scenario: its own site (readers and locations) when it has one."""
    site = scenario.site or _DEFAULT_SITE
    readers = [{**reader, "host": "127.0.0.1", "port": reader_port} for reader in site["readers"]]
    locations = []
    for location in site["locations"]:
        number = "".join(ch for ch in location["name"] if ch.isdigit())[-5:].rjust(5, "0")
        locations.append(
            {
                **location,
                "epcis": {
                    "read_point": f"urn:epc:id:sgln:0614141.{number}.1",
                    "biz_location": f"urn:epc:id:sgln:0614141.{number}.0",
                    "biz_step": "arriving",
                    "inbound": {"biz_step": "receiving", "disposition": "in_progress"},
                    "outbound": {"biz_step": "shipping", "disposition": "in_transit"},
                },
            }
        )
    data: dict[str, Any] = {
        "gateway": {"id": GATEWAY_ID},
        "mqtt": {
            "host": "127.0.0.1",
            "port": broker_port,
            "protocol": "3.1.1",  # the embedded broker speaks MQTT 3.1.1
            "topic_prefix": "dockgate",
            "epcis": epcis,
        },
        "readers": readers,
        "locations": locations,
        "pipeline": {"arrive_min_reads": 2, "arrive_window": "1s", "depart_after": "3s"},
        "outbox": {"path": str(outbox)},
    }
    if "metrics" in Config.model_fields:  # keep the demo off the default metrics port (another gateway may hold it)
        data["metrics"] = {"listen": f"127.0.0.1:{free_port()}"}
    return parse_config(yaml.safe_dump(data, sort_keys=False), "demo config")


# ---- what the demo watches -------------------------------------------------------------------------------


@dataclass
class Tag:
    """A tag in the door, as the reads show it: which side of the door reads it strongest, first and now."""

    location: str | None
    since: float
    last: float
    first_side: str | None = None
    side: str | None = None
    antennas: set[int] = field(default_factory=set)
    reads: deque[tuple[float, str, float]] = field(default_factory=deque)  # (time, side, rssi), the last second

    def add(self, now: float, side: str | None, rssi: float | None) -> None:
        self.last = now
        if side is None or rssi is None:
            return
        self.reads.append((now, side, rssi))
        while self.reads[0][0] < now - 1.0:
            self.reads.popleft()
        strongest: dict[str, float] = {}
        for _, where, level in self.reads:
            strongest[where] = max(level, strongest.get(where, -1e9))
        self.side = max(strongest, key=lambda where: strongest[where])
        if now - self.since < 1.0:
            self.first_side = self.side


class DoorWatch:
    """Counts reads (a tap on the pipeline's input) and collects what the broker delivers. Thread-safe."""

    def __init__(self, config: Config, window: float = 2.0) -> None:
        self._lock = threading.Lock()
        self.window = window
        self.sides: dict[tuple[str, int], tuple[str, str | None]] = {}  # (reader, antenna) -> location, side
        for location in config.locations:
            for point in location.read_points:
                reader = next(r for r in config.readers if r.name == point.reader)
                for antenna in point.antennas or getattr(reader, "antennas", None) or []:
                    self.sides[(point.reader, antenna)] = (location.name, point.side)
        self.antennas = sorted(self.sides)
        self.totals: Counter[tuple[str, int]] = Counter()
        self._recent: deque[tuple[float, str, int, str]] = deque()
        self.tags: dict[str, Tag] = {}
        self.events: deque[dict[str, Any]] = deque(maxlen=12)
        self.documents: deque[tuple[str, dict[str, Any]]] = deque(maxlen=6)
        self.received = Counter[str]()
        self.uris: dict[str, str] = {}  # epc -> pure identity URI, from the events
        self.status = "?"
        self.log: deque[str] = deque(maxlen=3)

    def tap(self, reads: Iterable[TagRead]) -> Iterator[TagRead]:
        for read in reads:
            self._count(read)
            yield read

    def _count(self, read: TagRead) -> None:
        now = time.monotonic()
        location, side = self.sides.get((read.reader, read.antenna), (None, None))
        with self._lock:
            self.totals[(read.reader, read.antenna)] += 1
            self._recent.append((now, read.reader, read.antenna, read.epc))
            tag = self.tags.get(read.epc)
            if tag is None or now - tag.last > 10:
                tag = self.tags[read.epc] = Tag(location, now, now)
            tag.add(now, side, read.rssi)
            tag.antennas.add(read.antenna)

    def rates(self) -> tuple[Counter[tuple[str, int]], Counter[str]]:
        """Reads per second over the window: per (reader, antenna), and per tag."""
        now = time.monotonic()
        with self._lock:
            while self._recent and self._recent[0][0] < now - self.window:
                self._recent.popleft()
            per_antenna = Counter((r, a) for _, r, a, _ in self._recent)
            per_tag = Counter(epc for *_, epc in self._recent)
            for epc in [e for e, t in self.tags.items() if now - t.last > 30]:
                del self.tags[epc]
        scale = 1 / self.window
        return Counter({k: v * scale for k, v in per_antenna.items()}), Counter(
            {k: v * scale for k, v in per_tag.items()}
        )

    def message(self, topic: str, payload: bytes) -> tuple[str, Any]:
        """Record one delivered message; returns its kind (status, event, epcis, reader, other) and content."""
        kind = "other"
        if topic.endswith("/status") and "/readers/" not in topic:
            kind = "status"
        elif "/events/" in topic:
            kind = "event"
        elif "/epcis/" in topic:
            kind = "epcis"
        elif "/readers/" in topic:
            kind = "reader"
        content: Any = payload.decode(errors="replace")
        if kind != "status":
            try:
                content = json.loads(payload)
            except ValueError:
                kind = "other"
        with self._lock:
            self.received[kind] += 1
            if kind == "status":
                self.status = content
            elif kind == "event":
                self.events.appendleft(content)
                if content.get("uri"):
                    self.uris[str(content.get("epc"))] = content["uri"]
                if content.get("type") == "departed" and content.get("epc") in self.tags:
                    self.tags.pop(content["epc"])
            elif kind == "epcis":
                self.documents.appendleft((topic, content))
        return kind, content

    def snapshot(self) -> tuple[list[tuple[str, Tag]], list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
        with self._lock:
            return list(self.tags.items()), list(self.events), list(self.documents)


# ---- plain output ----------------------------------------------------------------------------------------


def format_event(event: dict[str, Any]) -> str:
    """One readable line per event."""
    clock = str(event.get("time", ""))[11:23]
    kind = str(event.get("type", "?")).upper()
    antennas = ",".join(str(a) for a in event.get("antennas", []))
    rssi = event.get("rssi_max")
    rssi_text = f"{rssi:.0f} dBm" if isinstance(rssi, int | float) else "-"
    direction = f"  direction {event['direction']}" if event.get("direction") else ""
    return (
        f"{clock}  #{event.get('seq', '?'):<4} {kind:<9} {event.get('location', '?'):<8} "
        f"{event.get('epc', '?')}  antennas {antennas:<8} reads {event.get('reads', 0):<4} rssi {rssi_text}{direction}"
    )


def format_document(topic: str, doc: dict[str, Any]) -> str:
    """One readable line per EPCIS document."""
    lines = []
    for ev in doc.get("epcisBody", {}).get("eventList", []):
        lines.append(
            f"EPCIS {topic}: {ev.get('type')} {ev.get('action')} {ev.get('bizStep', '-')}/{ev.get('disposition', '-')} "
            f"{' '.join(ev.get('epcList', []))} at {ev.get('readPoint', {}).get('id', '-')} {ev.get('eventID')}"
        )
    return "\n".join(lines)


# ---- the live view ---------------------------------------------------------------------------------------


def _short_uri(uri: str | None, epc: str) -> str:
    if not uri:
        return epc
    return uri.removeprefix("urn:epc:id:")


def render(watch: DoorWatch, gateway: Gateway, header: dict[str, str], epcis: bool) -> RenderableType:
    """The whole screen, from the watch and the gateway's counters."""
    from rich import box
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    per_antenna, per_tag = watch.rates()
    tags, events, documents = watch.snapshot()
    now = time.monotonic()

    title = Text.assemble(
        ("dockgate demo", "bold cyan"),
        " · scenario ",
        (header["scenario"], "bold"),
        f" · gateway {GATEWAY_ID} · up {now - float(header['started']):.0f}s",
    )

    readers = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False)
    for name, justify in (("reader", "left"), ("ant", "right"), ("location", "left"), ("side", "left")):
        readers.add_column(name, justify=justify)  # type: ignore[arg-type]
    readers.add_column("reads/s", justify="right")
    readers.add_column("total", justify="right")
    for reader, antenna in watch.antennas:
        location, side = watch.sides[(reader, antenna)]
        rate = per_antenna.get((reader, antenna), 0.0)
        state = gateway.reader_status.get(reader, {}).get("state", "?")
        label = Text(reader, style="green" if state == "connected" else "red")
        readers.add_row(
            label,
            str(antenna),
            location,
            side or "-",
            Text(f"{rate:.0f}", style="bold green" if rate else "dim"),
            str(watch.totals.get((reader, antenna), 0)),
        )

    publisher, outbox = gateway.publisher, gateway.outbox
    broker = Table.grid(padding=(0, 1))
    broker.add_column(style="dim")
    broker.add_column()
    connected = publisher.connected
    broker.add_row(
        "broker",
        Text(f"{header['broker']}  ", style="")
        + Text("connected" if connected else "away", style="bold green" if connected else "bold red"),
    )
    broker.add_row("gateway", Text(str(watch.status), style="green" if watch.status == "online" else "yellow"))
    broker.add_row("outbox", f"{outbox.pending_count()} pending, last seq {outbox.last_seq}")
    broker.add_row(
        "", f"{outbox.added} stored, {outbox.acknowledged} acknowledged, {sum(outbox.dropped.values())} dropped"
    )
    broker.add_row("in flight", str(publisher.in_flight()))
    delivered = f"{watch.received['event']} events"
    if epcis:
        delivered += f", {watch.received['epcis']} EPCIS documents"
    broker.add_row("delivered", delivered)
    broker.add_row("subscribe", Text(header["subscribe"], style="dim"))

    present = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False)
    for name in ("tag", "location", "for", "antennas", "reads/s", "movement"):
        present.add_column(name, justify="right" if name in ("for", "reads/s") else "left")
    shown = sorted(tags, key=lambda item: (item[1].location or "", item[1].since))
    for epc, tag in shown[:10]:
        uri = watch.uris.get(epc)
        movement = tag.side or "-"
        if tag.first_side and tag.side and tag.first_side != tag.side:
            movement = f"{tag.first_side} → {tag.side}"
        present.add_row(
            _short_uri(uri, epc),
            tag.location or "-",
            f"{now - tag.since:.0f}s",
            ",".join(str(a) for a in sorted(tag.antennas)),
            f"{per_tag.get(epc, 0.0):.0f}",
            Text(movement, style="bold magenta" if "→" in movement else ""),
        )
    if len(shown) > 10:
        present.add_row(f"... {len(shown) - 10} more", "", "", "", "", "")

    recent = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False)
    for name in ("time", "seq", "event", "location", "tag", "reads", "direction"):
        recent.add_column(name, justify="right" if name in ("seq", "reads") else "left")
    colours = {"arrived": "bold green", "departed": "bold yellow", "static": "blue", "exception": "bold red"}
    for event in events[:7]:
        direction = event.get("direction")
        confidence = event.get("direction_confidence")
        recent.add_row(
            str(event.get("time", ""))[11:23],
            str(event.get("seq", "")),
            Text(str(event.get("type", "?")), style=colours.get(str(event.get("type")), "")),
            str(event.get("location", "")),
            _short_uri(event.get("uri"), str(event.get("epc", ""))),
            str(event.get("reads", "")),
            f"{direction} ({confidence:.2f})" if direction and isinstance(confidence, int | float) else "",
        )

    top = Table.grid(expand=True, padding=(0, 1))
    top.add_column(ratio=3)
    top.add_column(ratio=2)
    top.add_row(
        Panel(readers, title="readers and antennas", border_style="cyan"),
        Panel(broker, title="outbox and broker", border_style="cyan"),
    )
    parts: list[RenderableType] = [
        Panel(title, box=box.HEAVY, border_style="cyan"),
        top,
        Panel(present, title=f"tags present ({len(tags)})", border_style="magenta"),
        Panel(recent, title="last events (as delivered by the broker)", border_style="green"),
    ]
    if epcis:
        docs = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False)
        for name in ("eventTime", "bizStep", "disposition", "epcList", "readPoint", "eventID"):
            docs.add_column(name, overflow="ellipsis", no_wrap=True)
        for _topic, doc in documents[:4]:
            for ev in doc.get("epcisBody", {}).get("eventList", []):
                docs.add_row(
                    str(ev.get("eventTime", ""))[11:23],
                    str(ev.get("bizStep", "-")),
                    str(ev.get("disposition", "-")),
                    " ".join(e.removeprefix("urn:epc:id:") for e in ev.get("epcList", [])),
                    str(ev.get("readPoint", {}).get("id", "-")).removeprefix("urn:epc:id:"),
                    str(ev.get("eventID", "")).removeprefix("ni:///sha-256;")[:16] + "…",
                )
        parts.append(Panel(docs, title="EPCIS 2.0 ObjectEvents on dockgate/gw-demo/epcis/#", border_style="blue"))
    footer = "Ctrl-C stops the demo"
    if watch.log:
        footer = " | ".join(watch.log) + "   " + footer
    parts.append(Text(footer, style="dim"))
    return Group(*parts)


class _ListHandler(logging.Handler):
    """Log lines into the live view instead of scrambling the screen."""

    def __init__(self, watch: DoorWatch) -> None:
        super().__init__(logging.WARNING)
        self.watch = watch

    def emit(self, record: logging.LogRecord) -> None:
        self.watch.log.append(f"{record.levelname.lower()}: {record.getMessage()}"[:160])


# ---- running ---------------------------------------------------------------------------------------------


def run_demo(
    scenario: str | None = None,
    log_level: str = "WARNING",
    epcis: bool = False,
    live: bool | None = None,
    out: TextIO | None = None,
) -> int:
    """Run until Ctrl-C. ``live``: the rich view (default: when stdout is a terminal)."""
    from gateway.app import Gateway
    from gateway.cli import setup_logging
    from simulators.llrp.scenario import ScenarioError, load_scenario
    from simulators.llrp.server import LLRPSimulator

    out = out or sys.stdout
    live = out.isatty() if live is None else live
    log = logging.getLogger("dockgate")
    setup_logging(log_level)
    logging.getLogger("sllurp").setLevel(logging.ERROR)  # the gateway's own log says what matters here
    try:
        path = scenario_path(scenario)
        loaded = load_scenario(path)
    except (DemoError, ScenarioError) as exc:
        print(f"dockgate demo: {exc}", file=sys.stderr)
        return 2
    site = loaded.site or _DEFAULT_SITE
    antennas = max([*loaded.antennas_used(), *(a for r in site["readers"] for a in r.get("antennas", [1]))])
    broker = EmbeddedBroker()
    simulator = LLRPSimulator(loaded, port=free_port(), loop=True, antennas=antennas)
    workdir = tempfile.TemporaryDirectory(prefix="dockgate-demo-")
    subscriber: paho.Client | None = None
    gateway_thread: threading.Thread | None = None
    gateway: Gateway | None = None
    handler: _ListHandler | None = None
    try:
        print("dockgate demo: starting the embedded MQTT broker, the LLRP simulator and the gateway...", file=out)
        out.flush()
        broker.start()
        simulator.start()
        config = demo_config(loaded, broker.port, simulator.port, Path(workdir.name) / "outbox.db", epcis)
        gateway = Gateway(config)
        watch = DoorWatch(config)
        process = gateway.pipeline.process
        gateway.pipeline.process = lambda reads, now: process(watch.tap(reads), now)  # type: ignore[method-assign]
        topic = f"{config.mqtt.topic_prefix}/{config.gateway.id}/#"
        subscribe = f"mosquitto_sub -h 127.0.0.1 -p {broker.port} -t '{topic}' -v"
        header = {
            "scenario": loaded.name,
            "broker": f"127.0.0.1:{broker.port} (MQTT 3.1.1)",
            "subscribe": subscribe,
            "started": str(time.monotonic()),
        }
        if not live:
            print(f"  MQTT broker:     127.0.0.1:{broker.port} (MQTT 3.1.1)", file=out)
            print(f"  LLRP simulator:  127.0.0.1:{simulator.port} (scenario {loaded.name})", file=out)
            print(f"  subscribe too:   {subscribe}", file=out)
            if epcis:
                print(f"  EPCIS:           {config.mqtt.topic_prefix}/{config.gateway.id}/epcis/<location>", file=out)
            print("  Ctrl-C stops the demo.\n", file=out)
            out.flush()
        else:
            handler = _ListHandler(watch)
            root = logging.getLogger()
            for existing in list(root.handlers):
                root.removeHandler(existing)
            root.addHandler(handler)

        def on_connect(client: paho.Client, *_: Any) -> None:
            client.subscribe(topic, qos=1)

        def on_message(_client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
            kind, content = watch.message(message.topic, bytes(message.payload))
            if live:
                return
            if kind == "status":
                print(f"gateway status: {content}", file=out, flush=True)
            elif kind == "event":
                print(format_event(content), file=out, flush=True)
            elif kind == "epcis":
                print(format_document(message.topic, content), file=out, flush=True)
            elif kind == "other":
                print(f"{message.topic}: {message.payload!r}", file=out, flush=True)

        subscriber = paho.Client(CallbackAPIVersion.VERSION2, client_id="dockgate-demo-viewer", protocol=paho.MQTTv311)
        subscriber.on_connect = on_connect
        subscriber.on_message = on_message
        subscriber.connect("127.0.0.1", broker.port)
        subscriber.loop_start()

        gateway_thread = threading.Thread(target=gateway.run, name="gateway", daemon=True)
        gateway_thread.start()
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
        log.error("demo failed: %s", exc)
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
        if handler is not None:
            logging.getLogger().removeHandler(handler)


def _live(
    watch: DoorWatch, gateway: Gateway, thread: threading.Thread, header: dict[str, str], epcis: bool, out: TextIO
) -> None:
    from rich.console import Console
    from rich.live import Live

    console: Console = Console(file=out)
    with Live(
        render(watch, gateway, header, epcis), console=console, refresh_per_second=4, screen=False, transient=False
    ) as view:
        while thread.is_alive():
            thread.join(0.25)
            view.update(render(watch, gateway, header, epcis))
