"""Building the ``GatewaySnapshot`` from the parts the main loop owns, at the end of every turn."""

from __future__ import annotations

import time
from collections import Counter
from typing import Protocol

from gateway.config import Config
from gateway.core.flow import Flow
from gateway.core.ingress import ReadIngress
from gateway.core.owners import Owners
from gateway.core.readers import ReaderBoard
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.mqtt import MqttPublisher
from gateway.delivery.outbox import Outbox
from gateway.delivery.storage import Storage
from gateway.ops.display import Display
from gateway.ops.snapshot import BrokerFigures, GatewaySnapshot, JournalFigures, OutboxFigures, ReadPointFigures
from gateway.reports.desk import ReportDesk
from gateway.shipments.desk import ShipmentDesk


class Parts(Protocol):
    """What the snapshot is taken of: the gateway's parts (``gateway.app.Gateway``)."""

    config: Config
    started: bool
    ingress: ReadIngress
    flow: Flow
    storage: Storage
    publisher: MqttPublisher
    dispatcher: Dispatcher
    readers: ReaderBoard
    shipments: ShipmentDesk
    display: Display
    reports: ReportDesk
    owners: Owners
    events_stored: Counter[tuple[str, str]]

    @property
    def outbox(self) -> Outbox: ...


def take_snapshot(gateway: Parts) -> GatewaySnapshot:
    """The gateway as of this turn, for other threads (``Gateway.snapshot``): built once a turn, never per read."""
    outbox, storage, pipeline, publisher = gateway.outbox, gateway.storage, gateway.flow.pipeline, gateway.publisher
    scans = gateway.flow.scans
    display, rates = gateway.display, gateway.display.rates.rates
    points = [
        ReadPointFigures(r, a, point.location.name, point.reads, point.last_read, rates.get((r, a), 0.0))
        for (r, a), point in pipeline.read_points.points.items()
    ]
    points += [ReadPointFigures(r, a, None, n, 0.0) for (r, a), n in pipeline.unmapped.items()]
    journal = _journal(gateway.storage)
    return GatewaySnapshot(
        gateway=gateway.config.gateway.id,
        taken=time.time(),
        started=gateway.started,
        read_points=tuple(points),
        reads_filtered={**pipeline.dropped, "backpressure": gateway.ingress.dropped},
        events=dict(gateway.events_stored),
        readers={name: dict(status) for name, status in gateway.readers.status.items()},
        reconnects=dict(gateway.readers.reconnects),
        idle_episodes=dict(gateway.readers.idle_episodes),
        scans=scans.scans_total if scans is not None else 0,
        scans_dropped=scans.dropped() if scans is not None else {},
        tracked_tags=pipeline.presence.tracked_count,
        present_tags=pipeline.presence.present_count,
        outbox=OutboxFigures(
            pending=outbox.pending_count(),
            pending_bytes=outbox.pending_bytes,
            oldest_created=storage.oldest_created,
            last_seq=outbox.last_seq,
            added=outbox.added,
            acknowledged=outbox.acknowledged,
            dropped=dict(outbox.dropped),
            fault=storage.fault,
            is_open=outbox.is_open,
        ),
        broker=BrokerFigures(publisher.where, publisher.connected, gateway.dispatcher.in_flight, publisher.last_error),
        unstored_dropped=storage.unstored_dropped,
        shipments=gateway.shipments.shipment_views,
        doors=gateway.shipments.door_views,
        shipment_commands=gateway.shipments.command_counts,
        shipment_exceptions=gateway.shipments.exception_counts,
        present=display.present.lists,
        recent_events=display.recent.shown,
        reports=gateway.reports.latest,
        owners=gateway.owners.names,
        journal=journal,
    )


def _journal(storage: Storage) -> JournalFigures | None:
    signer, outbox = storage.checkpointer, storage.outbox
    if signer is None or outbox.journal is None:
        return None
    entry = outbox.journal.last()[0] if outbox.is_open else 0  # cached after the first read
    return JournalFigures(entry, signer.signed_seq, signer.checkpointed_at, signer.signing)
