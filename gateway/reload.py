"""What a live reload (SIGHUP) changes: decided here from the old and the new config, carried out by
``Gateway.apply_config``, which builds every part anew from the new config and hands over, explicitly,
only what survives: presence at unchanged locations, the outbox, running drivers whose settings did
not change, the broker connection when the mqtt section did not change, and the counters."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.config import Config
from gateway.domain.commands import command_event
from gateway.domain.model import LocationEvent

RESTART_ONLY = ("gateway", "outbox", "metrics")  # sections a reload cannot change (they keep their running values)


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    config: Config  # the new config, with the restart-only sections at their running values
    needs_restart: tuple[str, ...]  # restart-only sections that differ in the new file
    readers_stopped: frozenset[str]  # changed or removed: their drivers stop
    readers_started: frozenset[str]  # changed or added: new drivers start
    locations_kept: frozenset[str]  # same settings, same readers: presence carries over
    mqtt_changed: bool


def plan_reload(old: Config, new: Config) -> ReloadPlan:
    needs_restart = tuple(name for name in RESTART_ONLY if getattr(new, name) != getattr(old, name))
    if needs_restart:
        new = new.model_copy(update={name: getattr(old, name) for name in needs_restart})
    old_readers = {r.name: r for r in old.readers}
    new_readers = {r.name: r for r in new.readers}
    stopped = {name for name, settings in old_readers.items() if new_readers.get(name) != settings}
    started = {name for name, settings in new_readers.items() if old_readers.get(name) != settings}
    old_locations = {loc.name: loc for loc in old.locations}
    kept = {
        loc.name
        for loc in new.locations
        if old_locations.get(loc.name) == loc
        and all(old_readers.get(p.reader) == new_readers.get(p.reader) for p in loc.read_points)
    }
    return ReloadPlan(new, needs_restart, frozenset(stopped), frozenset(started), frozenset(kept), new.mqtt != old.mqtt)


def reload_event(config: Config, now: float, source: str, readers_restarted: Iterable[str]) -> LocationEvent:
    """The journal's record of a reload: ``config_sha256`` over the config in force as JSON, so an audit
    can tell which config ran when (it holds no secret: passwords come from files or the environment)."""
    digest = hashlib.sha256(config.model_dump_json().encode()).hexdigest()
    return command_event(
        config.gateway.id,
        "config_reload",
        now,
        source,
        None,
        config_sha256=digest,
        readers_restarted=sorted(readers_restarted),
    )
