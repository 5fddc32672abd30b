"""The demo's live view on a terminal (rich): drawn from a copy of what the watch saw and from the
gateway's last published snapshot, never from the gateway's parts."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.cli.demo.setup import GATEWAY_ID
from gateway.cli.demo.watch import WatchView
from gateway.ops.snapshot import GatewaySnapshot

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

_EVENT_STYLES = {"arrived": "bold green", "departed": "bold yellow", "static": "blue", "exception": "bold red"}
_TAGS_SHOWN = 10
_EVENTS_SHOWN = 7
_DOCUMENTS_SHOWN = 4


@dataclass(frozen=True)
class Header:
    """What the screen says about the demo itself."""

    scenario: str
    broker: str  # host:port (protocol)
    subscribe: str  # a mosquitto_sub command line that shows the same messages
    started: float  # time.monotonic() at start


def render(
    view: WatchView, snapshot: GatewaySnapshot, header: Header, epcis: bool, log: Sequence[str] = ()
) -> RenderableType:
    """The whole screen."""
    from rich import box
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    now = time.monotonic()
    title = Text.assemble(
        ("dockgate demo", "bold cyan"),
        " · scenario ",
        (header.scenario, "bold"),
        f" · gateway {GATEWAY_ID} · up {now - header.started:.0f}s",
    )
    top = Table.grid(expand=True, padding=(0, 1))
    top.add_column(ratio=3)
    top.add_column(ratio=2)
    top.add_row(
        Panel(_readers(view, snapshot), title="readers and antennas", border_style="cyan"),
        Panel(_outbox_and_broker(view, snapshot, header, epcis), title="outbox and broker", border_style="cyan"),
    )
    parts: list[RenderableType] = [
        Panel(title, box=box.HEAVY, border_style="cyan"),
        top,
    ]
    doors = [d for d in snapshot.doors.values() if d.get("state", "idle") != "idle"]
    if doors or snapshot.shipments:
        parts.append(Panel(_doors(snapshot), title="shipments at the doors", border_style="yellow"))
    parts += [
        Panel(_present(view, now), title=f"tags present ({len(view.tags)})", border_style="magenta"),
        Panel(_events(view), title="last events (as delivered by the broker)", border_style="green"),
    ]
    if epcis:
        title_epcis = f"EPCIS 2.0 ObjectEvents on dockgate/{GATEWAY_ID}/epcis/#"
        parts.append(Panel(_documents(view), title=title_epcis, border_style="blue"))
    footer = "Ctrl-C stops the demo"
    if log:
        footer = " | ".join(log) + "   " + footer
    parts.append(Text(footer, style="dim"))
    return Group(*parts)


_DOOR_STYLES = {"open": "bold yellow", "loading": "bold yellow", "verified": "bold green", "exception": "bold red"}


def _doors(snapshot: GatewaySnapshot) -> Table:
    """Each door's state in colour, its shipment's progress and what is wrong (the door status)."""
    from rich.text import Text

    table = _table("door", "state", "shipment", "seen", "missing", "unexpected / wrong door / wrong way")
    for location, door in sorted(snapshot.doors.items()):
        state = str(door.get("state", "idle"))
        wrong = [*door.get("unexpected", []), *door.get("wrong_door", []), *door.get("wrong_direction", [])]
        table.add_row(
            location,
            Text(state.upper(), style=_DOOR_STYLES.get(state, "dim")),
            str(door.get("shipment") or "-"),
            f"{door.get('seen', 0)}/{door.get('expected', 0)}" if door.get("shipment") else "-",
            ", ".join(_short_uri(m, m) for m in door.get("missing", [])[:3]) or "-",
            ", ".join(_short_uri(w.get("uri"), w["epc"]) for w in wrong[:3]) + (" ..." if len(wrong) > 3 else "")
            or "-",
        )
    return table


def _table(*columns: str, right: Sequence[str] = ()) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False)
    for name in columns:
        table.add_column(name, justify="right" if name in right else "left")
    return table


def _short_uri(uri: str | None, epc: str) -> str:
    return uri.removeprefix("urn:epc:id:") if uri else epc


def _readers(view: WatchView, snapshot: GatewaySnapshot) -> Table:
    """One row per (reader, antenna) of the config: where it reads, its read rate, its reads so far."""
    from rich.text import Text

    table = _table("reader", "ant", "location", "side", "reads/s", "total", right=("ant", "reads/s", "total"))
    for (reader, antenna), (location, side) in sorted(view.sides.items()):
        rate = view.per_antenna.get((reader, antenna), 0.0)
        state = snapshot.readers.get(reader, {}).get("state", "?")
        table.add_row(
            Text(reader, style={"connected": "green", "idle": "yellow"}.get(state, "red")),
            str(antenna),
            location,
            side or "-",
            Text(f"{rate:.0f}", style="bold green" if rate else "dim"),
            str(view.totals.get((reader, antenna), 0)),
        )
    return table


def _outbox_and_broker(view: WatchView, snapshot: GatewaySnapshot, header: Header, epcis: bool) -> Table:
    from rich.table import Table
    from rich.text import Text

    outbox, broker = snapshot.outbox, snapshot.broker
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim")
    grid.add_column()
    state = Text("connected", style="bold green") if broker.connected else Text("away", style="bold red")
    grid.add_row("broker", Text(f"{header.broker}  ") + state)
    grid.add_row("gateway", Text(view.status, style="green" if view.status == "online" else "yellow"))
    grid.add_row("outbox", f"{outbox.pending} pending, last seq {outbox.last_seq}")
    grid.add_row(
        "", f"{outbox.added} stored, {outbox.acknowledged} acknowledged, {sum(outbox.dropped.values())} dropped"
    )
    grid.add_row("in flight", str(broker.in_flight))
    delivered = f"{view.received['event']} events"
    if epcis:
        delivered += f", {view.received['epcis']} EPCIS documents"
    grid.add_row("delivered", delivered)
    grid.add_row("subscribe", Text(header.subscribe, style="dim"))
    return grid


def _present(view: WatchView, now: float) -> Table:
    """The tags in the door, oldest first per location, and which way they moved."""
    from rich.text import Text

    table = _table("tag", "location", "for", "antennas", "reads/s", "movement", right=("for", "reads/s"))
    shown = sorted(view.tags, key=lambda item: (item[1].location or "", item[1].since))
    for epc, tag in shown[:_TAGS_SHOWN]:
        movement = tag.side or "-"
        if tag.first_side and tag.side and tag.first_side != tag.side:
            movement = f"{tag.first_side} → {tag.side}"
        table.add_row(
            _short_uri(view.uris.get(epc), epc),
            tag.location or "-",
            f"{now - tag.since:.0f}s",
            ",".join(str(a) for a in sorted(tag.antennas)),
            f"{view.per_tag.get(epc, 0.0):.0f}",
            Text(movement, style="bold magenta" if "→" in movement else ""),
        )
    if len(shown) > _TAGS_SHOWN:
        table.add_row(f"... {len(shown) - _TAGS_SHOWN} more", "", "", "", "", "")
    return table


def _events(view: WatchView) -> Table:
    from rich.text import Text

    table = _table("time", "seq", "event", "location", "tag", "reads", "direction", right=("seq", "reads"))
    for event in view.events[:_EVENTS_SHOWN]:
        direction = event.get("direction")
        confidence = event.get("direction_confidence")
        table.add_row(
            str(event.get("time", ""))[11:23],
            str(event.get("seq", "")),
            Text(str(event.get("type", "?")), style=_EVENT_STYLES.get(str(event.get("type")), "")),
            str(event.get("location", "")),
            _short_uri(event.get("uri"), str(event.get("epc", ""))),
            str(event.get("reads", "")),
            f"{direction} ({confidence:.2f})" if direction and isinstance(confidence, int | float) else "",
        )
    return table


def _documents(view: WatchView) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False)
    for name in ("eventTime", "bizStep", "disposition", "epcList", "readPoint", "eventID"):
        table.add_column(name, overflow="ellipsis", no_wrap=True)
    for _topic, doc in view.documents[:_DOCUMENTS_SHOWN]:
        for ev in doc.get("epcisBody", {}).get("eventList", []):
            table.add_row(
                str(ev.get("eventTime", ""))[11:23],
                str(ev.get("bizStep", "-")),
                str(ev.get("disposition", "-")),
                " ".join(e.removeprefix("urn:epc:id:") for e in ev.get("epcList", [])),
                str(ev.get("readPoint", {}).get("id", "-")).removeprefix("urn:epc:id:"),
                str(ev.get("eventID", "")).removeprefix("ni:///sha-256;")[:16] + "…",
            )
    return table
