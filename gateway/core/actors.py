"""Who moved it: the people and vehicles of ``actors`` signed in at each door, and the events they handled.

Plain logic on the main loop's thread, like the pipeline. Each turn ``process`` takes the turn's events
from the pipeline and the scanners, before the shipments see them:

- an event about an actor's identity is never a property event. A badge scanned at a door (a GS1
  barcode with AI 8018, the GSRN) signs its person in there, and the same badge scanned again signs
  them out; an actor's tag that arrives signs it in (``source: rfid``) and its departure signs it out;
  every other event about an actor's tag (static, an exception) is dropped. Each sign-in and sign-out is
  an ``actor_sign_in`` / ``actor_sign_out`` command event (gateway.domain.commands) in its place, so the
  journal holds it. Another person (or vehicle) signing in at the same door signs the previous one out
  (``source: replaced``);
- every other event at a door with someone signed in carries ``operator`` and/or ``vehicle``
  (``{"name", "id"}``); ``attribute`` does the same for the events the shipments add later in the turn;
- a badge sign-in ends after ``actors.sign_out_after`` without an event at its door (``source: timeout``).

Who is signed in is stored with the events that say so (gateway.delivery.actor_store) and ``restore``d
at the next start; a tag's sign-in whose tag is no longer present then is signed out (``source:
restart``), since its departure can no longer be seen. Without ``actors`` configured, ``process``
returns the events untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.config import Config
from gateway.domain.commands import CommandName, command_event
from gateway.domain.log import get_logger
from gateway.domain.model import LocationEvent

if TYPE_CHECKING:
    from gateway.core.pipeline import Pipeline

log = get_logger(__name__)

ATTRIBUTED_NOT = frozenset({"command", "report"})  # events that no one at the door handled
SignInRow = tuple[str, str, str, str, float, str]
"""A stored sign-in: location, kind, name, id, since, source (gateway.delivery.actor_store)."""


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    kind: str  # operator | vehicle
    uri: str

    def ref(self) -> dict[str, str]:
        return {"name": self.name, "id": self.uri}


@dataclass(slots=True)
class SignIn:
    actor: Actor
    location: str
    since: float
    source: str  # scanner | rfid
    last: float  # the last event at the door while signed in: the timeout counts from it


class ActorDesk:
    def __init__(self, config: Config) -> None:
        self.gateway = config.gateway.id
        self.signed: dict[tuple[str, str], SignIn] = {}  # (location, kind) -> who is signed in
        self.reconfigure(config)

    def reconfigure(self, config: Config, now: float | None = None) -> list[LocationEvent]:
        """After a reload (``now`` given): who is no longer configured, or no longer so, is signed out."""
        actors = config.actors
        self.timeout = actors.sign_out_after
        found = [Actor(p.name, "operator", p.id) for p in actors.people]
        found += [Actor(v.name, "vehicle", v.id) for v in actors.vehicles]
        self.by_uri = {a.uri: a for a in found}
        self.by_key = {a.uri.rsplit(":", 1)[1].replace(".", ""): a for a in found}  # GS1 digits: 8018, 8004
        self.enabled = bool(found)
        out = []
        for key, signed in list(self.signed.items()):
            if self.by_uri.get(signed.actor.uri) != signed.actor:
                del self.signed[key]
                out.append(self._command("actor_sign_out", signed.actor, signed.location, now or 0.0, "reload"))
        return out

    # ---- restore --------------------------------------------------------------------------------

    def restore(self, rows: Iterable[SignInRow], pipeline: Pipeline, now: float) -> list[LocationEvent]:
        """Sign-ins as stored, after the presence was restored into ``pipeline``. Returns the sign-outs
        this implies: actors no longer configured, tags no longer present."""
        rows = list(rows)
        if not rows:
            return []
        identity = pipeline.identity
        present = {(loc, identity.uri(epc)) for loc, *_ in rows for epc, _ in pipeline.presence.seen_at(loc)}
        out: list[LocationEvent] = []
        for location, kind, name, uri, since, source in rows:
            actor = self.by_uri.get(uri)
            if actor is None or actor.name != name or actor.kind != kind:  # no longer configured so
                out.append(self._command("actor_sign_out", Actor(name, kind, uri), location, now, "restart"))
            elif source == "rfid" and (location, uri) not in present:  # its departure cannot be seen now
                out.append(self._command("actor_sign_out", actor, location, now, "restart"))
            else:
                self.signed[(location, kind)] = SignIn(actor, location, since, source, now)
        if self.signed:
            log.info(
                "actors_restored", signed_in=",".join(f"{s.actor.name}@{s.location}" for s in self.signed.values())
            )
        return out

    # ---- the turn -------------------------------------------------------------------------------

    def process(self, events: list[LocationEvent], now: float) -> list[LocationEvent]:
        if not self.enabled:
            return events
        out: list[LocationEvent] = []
        for event in events:
            actor = self._actor_of(event)
            if actor is None:
                self._attribute(event, now)
                out.append(event)
            else:
                out += self._sign(actor, event, now)
        if self.signed:
            out += self._timeouts(now)
        return out

    def attribute(self, events: Iterable[LocationEvent], now: float) -> None:
        if self.signed:
            for event in events:
                self._attribute(event, now)

    def _attribute(self, event: LocationEvent, now: float) -> None:
        if not self.signed or event.type in ATTRIBUTED_NOT:
            return
        for kind in ("operator", "vehicle"):
            signed = self.signed.get((event.location, kind))
            if signed is not None:
                event.extra[kind] = signed.actor.ref()
                signed.last = now

    def _actor_of(self, event: LocationEvent) -> Actor | None:
        if event.uri is not None and (actor := self.by_uri.get(event.uri)) is not None:
            return actor
        barcode = event.extra.get("barcode") if event.type in ("scanned", "exception") else None
        gs1 = barcode.get("gs1") if isinstance(barcode, dict) else None
        if isinstance(gs1, dict):
            if (gsrn := gs1.get("8018")) is not None:
                return self.by_key.get(str(gsrn)[:17])
            if (giai := gs1.get("8004")) is not None:
                return self.by_key.get(str(giai))
        return None

    def _sign(self, actor: Actor, event: LocationEvent, now: float) -> list[LocationEvent]:
        key = (event.location, actor.kind)
        current = self.signed.get(key)
        if event.type == "scanned":
            if current is not None and current.actor == actor:  # the same badge again: signing out
                del self.signed[key]
                return [self._command("actor_sign_out", actor, event.location, now, "scanner", event.reader)]
            return self._sign_in(SignIn(actor, event.location, now, "scanner", now), event.reader, now)
        if event.type == "arrived":
            if current is not None and current.actor == actor:
                current.last = now
                return []
            return self._sign_in(SignIn(actor, event.location, now, "rfid", now), event.reader, now)
        if event.type == "departed" and current is not None and current.actor == actor and current.source == "rfid":
            del self.signed[key]
            return [self._command("actor_sign_out", actor, event.location, now, "rfid", event.reader)]
        log.debug("actor_event_dropped", actor=actor.name, type=event.type, location=event.location)
        return []

    def _sign_in(self, signed: SignIn, reader: str, now: float) -> list[LocationEvent]:
        key = (signed.location, signed.actor.kind)
        out = []
        previous = self.signed.get(key)
        if previous is not None:
            out.append(self._command("actor_sign_out", previous.actor, signed.location, now, "replaced"))
        for other_key, other in list(self.signed.items()):  # one door at a time: signing in here leaves the other
            if other.actor == signed.actor and other_key != key:
                del self.signed[other_key]
                out.append(self._command("actor_sign_out", other.actor, other.location, now, "replaced"))
        self.signed[key] = signed
        out.append(self._command("actor_sign_in", signed.actor, signed.location, now, signed.source, reader))
        return out

    def _timeouts(self, now: float) -> list[LocationEvent]:
        out = []
        for key, signed in list(self.signed.items()):
            if signed.source == "scanner" and now - signed.last >= self.timeout:
                del self.signed[key]
                out.append(self._command("actor_sign_out", signed.actor, signed.location, now, "timeout"))
        return out

    def _command(
        self, command: CommandName, actor: Actor, location: str, now: float, source: str, reader: str = ""
    ) -> LocationEvent:
        log.info(command, actor=actor.name, kind=actor.kind, location=location, source=source, reader=reader or "-")
        return command_event(
            self.gateway,
            command,
            now,
            source,
            None,
            location,
            **{actor.kind: actor.ref()},
        )
