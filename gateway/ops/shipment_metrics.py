"""Shipment metrics, from the snapshot at scrape time like the others (``gateway.ops.metrics``)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from gateway.ops.snapshot import GatewaySnapshot


def shipment_metrics(snap: GatewaySnapshot) -> Iterator[Metric]:
    commands = CounterMetricFamily(
        "dockgate_shipment_commands",
        "Shipment commands by source (mqtt, http), action and result (accepted, refused; action invalid: "
        "a command that could not be read).",
        labels=["source", "action", "result"],
    )
    for (source, action, result), count in sorted(snap.shipment_commands.items()):
        commands.add_metric([source, action, result], count)
    yield commands
    exceptions = CounterMetricFamily(
        "dockgate_shipment_item_exceptions",
        "Items of (or at a door with) an open shipment that raised an exception, by door and reason "
        "(unexpected_item, wrong_door, wrong_direction).",
        labels=["location", "reason"],
    )
    for (location, reason), count in sorted(snap.shipment_exceptions.items()):
        exceptions.add_metric([location, reason], count)
    yield exceptions
    states = GaugeMetricFamily(
        "dockgate_door_shipment_state",
        "1 for the state each door shows (idle, open, loading, verified, exception).",
        labels=["location", "state"],
    )
    for location, view in sorted(snap.doors.items()):
        for state in ("idle", "open", "loading", "verified", "exception"):
            states.add_metric([location, state], 1 if view.get("state") == state else 0)
    yield states
