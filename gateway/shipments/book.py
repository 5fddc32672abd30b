"""The shipments the gateway knows, checked against the events as they happen. The main loop owns it.

Each turn: ``command`` for every command handed over, ``observe`` on the turn's events (it marks events
of expected items with their ``shipment`` and returns the exceptions: ``unexpected_item``,
``wrong_door``, ``wrong_direction``), ``tick`` (deadlines, ``close_after``: the verdicts
``shipment_verified`` / ``shipment_exception``). ``take_dirty`` gives what changed, to be committed in
the same transaction as the turn's events. At most one open shipment per door.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from gateway.config import Config
from gateway.domain.commands import CommandName, command_event
from gateway.domain.log import get_logger
from gateway.domain.model import LocationEvent
from gateway.shipments.commands import Action, Command, Reply, refused
from gateway.shipments.shipment import Shipment

log = get_logger(__name__)

VERIFIED_SHOWN_S = 60.0  # a door shows its last verified shipment this long, then idle
CLOSED_KEPT = 500  # closed shipments kept in memory and in views (all stay in the outbox file until pruned)
ITEM_EVENTS = frozenset({"arrived", "departed"})
JOURNALED: dict[Action, CommandName] = {
    "post": "shipment_post",
    "close": "shipment_close",
    "cancel": "shipment_cancel",
    "acknowledge": "shipment_acknowledge",
}


class ShipmentBook:
    def __init__(self, config: Config) -> None:
        self.gateway = config.gateway.id
        self.locations = [loc.name for loc in config.locations]
        self.max_items = config.shipments.max_items
        self.shipments: dict[str, Shipment] = {}
        self.commands: Counter[tuple[str, str, str]] = Counter()  # (source, action, accepted|refused)
        self.exceptions: Counter[tuple[str, str]] = Counter()  # (location, reason)
        self.version = 0  # +1 on every change: views and door status are rebuilt when it moves
        self.tally = 0  # +1 on every command and item exception counted: the metrics' copies are renewed
        self._dirty: set[str] = set()
        self._door: dict[str, str] = {}  # location -> its open shipment's id
        self._last: dict[str, str] = {}  # location -> the shipment closed there last

    def reconfigure(self, config: Config) -> None:
        """After a reload: the doors and the limit may change; the shipments stay."""
        self.locations = [loc.name for loc in config.locations]
        self.max_items = config.shipments.max_items
        self.version += 1

    # ---- restore and persist ---------------------------------------------------------------------------

    def restore(self, docs: list[dict[str, Any]]) -> int:
        """Shipments as stored (oldest first); returns how many are open."""
        for doc in docs:
            s = Shipment.from_doc(doc)
            self.shipments[s.id] = s
            if s.is_open:
                self._door[s.order.location] = s.id
            elif s.state != "cancelled":
                self._last[s.order.location] = s.id
        self.version += 1
        return len(self._door)

    def take_dirty(self) -> list[tuple[str, str, bytes]]:
        """(id, state, document) of every shipment changed since the last call."""
        out: list[tuple[str, str, bytes]] = []
        for i in self._dirty:
            s = self.shipments.get(i)
            if s is not None:
                out.append((i, s.state, json.dumps(s.to_doc(), separators=(",", ":")).encode()))
        self._dirty.clear()
        return out

    def _changed(self, s: Shipment) -> None:
        self._dirty.add(s.id)
        self.version += 1

    # ---- commands ------------------------------------------------------------------------------------

    def command(self, cmd: Command, now: float) -> tuple[Reply, list[LocationEvent]]:
        """The reply, and the events to store with the change: first the accepted command itself (the
        journal's record of it, gateway.domain.commands), then what it caused (a close's verdict)."""
        reply, events = self._command(cmd, now)
        if reply.accepted:
            events.insert(0, self._journaled(cmd, now))
        result = "accepted" if reply.accepted else "refused"
        self.commands[(cmd.source, cmd.action, result)] += 1
        self.tally += 1
        fields = {"source": cmd.source, "actor": cmd.actor or "-", "shipment": cmd.shipment_id}
        if reply.accepted:
            log.info("shipment_command", action=cmd.action, result=result, **fields)
        else:
            log.warning(
                "shipment_command", action=cmd.action, result=result, reason=reply.reason, field=reply.field, **fields
            )
        return reply, events

    def _journaled(self, cmd: Command, now: float) -> LocationEvent:
        s = self.shipments[cmd.shipment_id]
        posted = {"order": cmd.order.model_dump(mode="json")} if cmd.order is not None else {}
        return command_event(
            self.gateway,
            JOURNALED[cmd.action],
            now,
            cmd.source,
            cmd.actor,
            s.order.location,
            shipment=s.id,
            **posted,
        )

    def _command(self, cmd: Command, now: float) -> tuple[Reply, list[LocationEvent]]:
        if cmd.action == "post":
            return self._post(cmd, now), []
        s = self.shipments.get(cmd.shipment_id)
        if s is None:
            return refused(404, f"no shipment {cmd.shipment_id!r}", "id"), []
        if cmd.action == "acknowledge":
            if s.state != "exception":
                return refused(409, f"shipment {s.id} is {s.state}: only an exception is acknowledged"), []
            s.acknowledged = True
            self._changed(s)
            return Reply(True, 200, shipment=s.view()), []
        if not s.is_open:
            return refused(409, f"shipment {s.id} is already {s.state}"), []
        if cmd.action == "cancel":
            s.state, s.closed, s.close_reason = "cancelled", now, "cancelled"
            self._door.pop(s.order.location, None)
            self._changed(s)
            return Reply(True, 200, shipment=s.view()), []
        return Reply(True, 200, shipment=None), [self._close(s, now, "closed")]

    def _post(self, cmd: Command, now: float) -> Reply:
        order = cmd.order
        if order is None:
            return refused(422, "post needs the shipment", "shipment")
        if order.id in self.shipments:
            return refused(409, f"shipment {order.id} exists ({self.shipments[order.id].state}); ids are unique", "id")
        if order.location not in self.locations:
            known = ", ".join(self.locations)
            return refused(422, f"unknown door {order.location!r}; this gateway has {known}", "location")
        if order.size() > self.max_items:
            return refused(
                422, f"{order.size()} expected items, over the limit of {self.max_items} (shipments.max_items)", "items"
            )
        if order.size() == 0:
            return refused(422, "a shipment expects at least one item or class", "items")
        if order.deadline is not None and order.deadline.timestamp() <= now:
            return refused(422, f"deadline {order.deadline.isoformat()} has passed", "deadline")
        busy = self._door.get(order.location)
        if busy is not None:
            return refused(409, f"door {order.location} has open shipment {busy}; close or cancel it first", "location")
        s = Shipment(order, opened=now, source=cmd.source, actor=cmd.actor)
        self.shipments[s.id] = s
        self._door[order.location] = s.id
        self._changed(s)
        self._forget_old()
        return Reply(True, 201, shipment=s.view())

    def _forget_old(self) -> None:
        closed = [i for i, s in self.shipments.items() if not s.is_open]
        for i in closed[: max(0, len(closed) - CLOSED_KEPT)]:
            del self.shipments[i]

    # ---- verification --------------------------------------------------------------------------------

    def observe(self, events: list[LocationEvent], now: float) -> list[LocationEvent]:
        """Events of this turn: marks those of shipment items, returns the exceptions they raise."""
        if not self._door:
            return []
        out: list[LocationEvent] = []
        open_now = [self.shipments[i] for i in self._door.values()]
        for e in events:
            if e.type in ITEM_EVENTS and e.epc:
                if e.type == "arrived":
                    self._arrived(e, open_now, now, out)
                else:
                    self._departed(e, open_now, out)
        return out

    def _arrived(self, e: LocationEvent, open_now: list[Shipment], now: float, out: list[LocationEvent]) -> None:
        here = None
        # the door's own shipment first: an item it expects is never another door's mis-load
        for s in sorted(open_now, key=lambda s: s.order.location != e.location):
            key = s.expects(e.epc, e.uri)
            if s.order.location == e.location:
                here = s
            if key is None:
                continue
            e.extra["shipment"] = s.id
            if s.order.location == e.location:
                if s.count(e.epc, key, now):
                    self._changed(s)
                    return
                if e.epc in s.seen:
                    s.last_match = now  # counted before: no second item, but the loading goes on
                    return
                s.unexpected[e.epc] = e.uri  # its class is complete: one too many
                self._changed(s)
                out.append(self._exception(e, s, "unexpected_item", detail="class quantity already complete"))
                return
            if e.epc not in s.seen:
                s.wrong_door[e.epc] = e.location
                self._changed(s)
                out.append(self._exception(e, s, "wrong_door", expected_location=s.order.location))
                return
        if here is not None and e.epc not in here.unexpected:
            here.unexpected[e.epc] = e.uri
            self._changed(here)  # the arrival itself carries no shipment: the item does not belong to it
            out.append(self._exception(e, here, "unexpected_item"))

    def _departed(self, e: LocationEvent, open_now: list[Shipment], out: list[LocationEvent]) -> None:
        d = e.direction
        for s in open_now:
            if s.order.location != e.location:
                continue
            if e.epc in s.seen:
                e.extra["shipment"] = s.id
                if d is not None and d != s.order.direction:
                    s.uncount(e.epc)
                    s.wrong_direction[e.epc] = d
                    self._changed(s)
                    out.append(self._exception(e, s, "wrong_direction", expected_direction=s.order.direction))
            elif e.epc in s.unexpected and d is not None and d != s.order.direction:
                del s.unexpected[e.epc]  # taken back out the way it came: it did not go with the shipment
                self._changed(s)
                log.info("unexpected_item_withdrawn", shipment=s.id, epc=e.epc, location=e.location)

    def _exception(self, e: LocationEvent, s: Shipment, reason: str, **extra: Any) -> LocationEvent:
        self.exceptions[(e.location, reason)] += 1
        self.tally += 1
        log.warning("shipment_exception_item", reason=reason, shipment=s.id, epc=e.epc, location=e.location, **extra)
        return LocationEvent(
            type="exception",
            time=e.time,
            gateway=e.gateway,
            location=e.location,
            reader=e.reader,
            epc=e.epc,
            antennas=list(e.antennas),
            reads=e.reads,
            rssi_max=e.rssi_max,
            first_seen=e.first_seen,
            last_seen=e.last_seen,
            uri=e.uri,
            reason=reason,
            extra={"shipment": s.id, "shipment_direction": s.order.direction, **extra},
        )

    # ---- closing -------------------------------------------------------------------------------------

    def tick(self, now: float) -> list[LocationEvent]:
        """Closes shipments past their deadline or quiet for their ``close_after``."""
        out: list[LocationEvent] = []
        for i in list(self._door.values()):
            s = self.shipments[i]
            o = s.order
            if o.deadline is not None and now >= o.deadline.timestamp():
                out.append(self._close(s, now, "deadline"))
            elif o.close_after is not None and s.last_match is not None and now - s.last_match >= o.close_after:
                out.append(self._close(s, now, "close_after"))
        return out

    def _close(self, s: Shipment, now: float, reason: str) -> LocationEvent:
        verdict = s.close(now, reason)
        self._door.pop(s.order.location, None)
        self._last[s.order.location] = s.id
        self._changed(s)
        log.warning(
            "shipment_closed",
            shipment=s.id,
            verdict=verdict,
            reason=reason,
            seen=s.seen_count,
            expected=s.expected_count,
            missing=s.missing_count(),
            unexpected=len(s.unexpected),
            wrong_door=len(s.wrong_door),
            wrong_direction=len(s.wrong_direction),
        )
        return LocationEvent(
            type=f"shipment_{verdict}",
            time=now,
            gateway=self.gateway,
            location=s.order.location,
            reader="",
            epc="",
            antennas=[],
            reads=0,
            rssi_max=None,
            first_seen=s.opened,
            last_seen=now,
            extra={
                "epc": None,
                "reader": None,
                "shipment": s.id,
                "shipment_direction": s.order.direction,
                "close_reason": reason,
                "expected": s.expected_count,
                "seen": s.seen_count,
                **s.lists(),
            },
        )

    def expected_of(self, shipment_id: str) -> list[str]:
        """The shipment's expected identities and class patterns; [] if unknown."""
        s = self.shipments.get(shipment_id)
        if s is None:
            return []
        return [*s.order.items, *(c.pattern for c in s.order.classes)]

    def biz_transaction(self, shipment_id: str) -> str | None:
        """The shipment's business transaction in EPCIS: as posted, or a URN of this gateway and the id."""
        s = self.shipments.get(shipment_id)
        if s is None:
            return None
        return s.order.biz_transaction or f"urn:dockgate:shipment:{self.gateway}:{shipment_id}"

    # ---- what is shown -------------------------------------------------------------------------------

    def views(self) -> dict[str, dict[str, Any]]:
        return {i: s.view() for i, s in self.shipments.items()}

    def door(self, location: str, now: float) -> dict[str, Any]:
        """A door's state: its open shipment, else its last verdict (an exception until acknowledged, a
        verification for ``VERIFIED_SHOWN_S``), else idle."""
        s = self.shipments.get(self._door.get(location, ""))
        if s is None:
            last = self.shipments.get(self._last.get(location, ""))
            if last is not None and last.closed is not None:
                shown = (last.state == "exception" and not last.acknowledged) or (
                    last.state == "verified" and now - last.closed < VERIFIED_SHOWN_S
                )
                s = last if shown else None
        if s is None:
            return {"location": location, "state": "idle", "shipment": None}
        return {
            "location": location,
            "state": s.state,
            "shipment": s.id,
            "direction": s.order.direction,
            "seen": s.seen_count,
            "expected": s.expected_count,
            "missing": s.missing()[:50],
            **{k: v for k, v in s.lists().items() if k != "missing"},
        }

    def doors(self, now: float) -> dict[str, dict[str, Any]]:
        return {loc: self.door(loc, now) for loc in self.locations}
