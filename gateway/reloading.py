"""Carrying out a live reload (SIGHUP) on a running gateway: every part is built anew from the new config
and what survives is handed over explicitly, as ``gateway.reload.plan_reload`` decided. gateway.id, outbox
and metrics need a restart. The reload is journaled as a ``config_reload`` command at the next turn.
Runs on the main loop (``Gateway.apply_config``), which owns every part it replaces."""

from __future__ import annotations

import logging
from typing import Any

from gateway.config import Config
from gateway.core.flow import Flow
from gateway.core.owners import Owners
from gateway.delivery.topics import Topics
from gateway.domain.errors import DockgateError
from gateway.domain.log import get_logger
from gateway.ops.display import Display
from gateway.reload import plan_reload, reload_event

log = get_logger("gateway.app")  # the reload's lines come from the gateway, as before this module


def apply_reload(gw: Any, new: Config, source: str) -> None:
    """``gw``: the ``gateway.app.Gateway`` (typed Any: this module is its part, and importing it back would
    be a cycle); every attribute replaced here is one the gateway owns."""
    plan = plan_reload(gw.config, new)
    new, mqtt_changed = plan.config, plan.mqtt_changed
    if plan.needs_restart:
        log.warning(
            "reload_needs_restart", sections=",".join(plan.needs_restart), detail="these keep their running values"
        )
    topics = Topics(new.mqtt, new.gateway.id)
    publisher = None
    if mqtt_changed:
        try:
            publisher = gw._publisher(new, topics)  # first: a bad password file must not leave us without one
        except DockgateError as exc:
            log.error("reload_refused", section="mqtt", error=str(exc), detail="the running MQTT settings stay")
            new, mqtt_changed = new.model_copy(update={"mqtt": gw.config.mqtt}), False
            topics = Topics(new.mqtt, new.gateway.id)
    drivers = {d.name: d for d in gw.drivers}
    for name in sorted(plan.readers_stopped):
        drivers.pop(name).stop()
    gw.readers.set_readers(r.name for r in new.readers)
    for settings in new.readers:
        if settings.name in plan.readers_started:
            if settings.name in plan.readers_stopped:  # its new driver reports connecting / connected from here
                gw.readers.report(settings.name, "disconnected", "config reloaded")
            drivers[settings.name] = gw._make_driver(settings)
            drivers[settings.name].start()
    gw.drivers = [drivers[r.name] for r in new.readers]
    gw.owners = Owners(new.owners)
    display: Display = Display(new, gw.owners)
    display.adopt(gw.display)
    gw.display = display
    flow = Flow(new, identity=gw.flow.pipeline.identity)
    flow.adopt(gw.flow, set(plan.locations_kept))
    gw.flow = flow
    if gw.outbox.is_open:
        gw.outbox.presence.forget(set(plan.locations_kept))
    gw.topics = topics
    gw.shipments.reconfigure(new, topics.shipment_replies)
    gw.reports.reconfigure(new)
    gw._commands += gw.actors.reconfigure(new, gw.clock())
    gw.epcis = gw._epcis(new, topics)
    if publisher is not None:
        gw.publisher.stop(timeout=2.0)
        gw.publisher, old = publisher, gw.dispatcher
        gw.dispatcher = gw._dispatcher(new, publisher)  # what the old one had in flight is sent again
        gw.dispatcher.adopt(old)
        gw.readers.republish()
        publisher.start()
    if new.logging.level != gw.config.logging.level:
        logging.getLogger().setLevel(new.logging.level)
    if new.logging.format != gw.config.logging.format:
        log.warning("reload_needs_restart", sections="logging.format", detail="the log format stays until restart")
    gw.config = new
    gw._commands.append(reload_event(new, gw.clock(), source, plan.readers_started))
    log.warning(
        "reloaded",
        readers_restarted=",".join(sorted(plan.readers_started)) or "-",
        locations_kept=",".join(sorted(plan.locations_kept)) or "-",
        mqtt_reconnected=mqtt_changed,
    )
