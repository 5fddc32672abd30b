"""The Prometheus exporter renders the snapshot, and nothing else: what the main loop published is what
a scrape shows. Scan counters (once kept and never exported) are exported and survive a reload."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from gateway.config import parse_config
from gateway.core.flow import Flow
from gateway.domain.model import ScanRead
from gateway.ops.metrics import GatewayMetrics
from gateway.ops.snapshot import GatewaySnapshot, OutboxFigures, ReadPointFigures
from tests.unit.test_scanner_fusion import CONFIG

T0 = 1_800_000_000.0


def _scrape(snapshot: GatewaySnapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    metrics = GatewayMetrics()
    metrics.attach(lambda: snapshot)
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_a_scrape_shows_the_snapshot() -> None:
    snapshot = GatewaySnapshot(
        gateway="gw",
        taken=T0,
        read_points=(ReadPointFigures("portal-3", 1, "dock-3", 42, T0), ReadPointFigures("portal-3", 7, None, 3, 0.0)),
        reads_filtered={"arbitration": 5, "backpressure": 0},
        events={("arrived", "dock-3"): 2},
        readers={
            "portal-3": {"state": "connected", "antennas": {"1": "connected", "2": "disconnected"}},
            "portal-4": {"state": "idle", "detail": "no tag report for 30s"},
            "portal-5": {"state": "disconnected"},
        },
        reconnects={"portal-3": 1},
        idle_episodes={"portal-4": 2},
        scans=9,
        scans_dropped={("scanner-3", "duplicate"): 4, ("scanner-9", "no_read_point"): 1},
        outbox=OutboxFigures(pending=6, pending_bytes=600, fault="disk full", is_open=True),
    )
    got = _scrape(snapshot)
    assert got[("dockgate_reads_total", (("antenna", "1"), ("reader", "portal-3")))] == 42
    assert got[("dockgate_reads_total", (("antenna", "7"), ("reader", "portal-3")))] == 3
    assert got[("dockgate_reads_filtered_total", (("reason", "arbitration"),))] == 5
    assert got[("dockgate_events_total", (("location", "dock-3"), ("type", "arrived")))] == 2
    assert got[("dockgate_reader_connected", (("reader", "portal-3"),))] == 1
    assert got[("dockgate_antenna_connected", (("antenna", "2"), ("reader", "portal-3")))] == 0
    assert got[("dockgate_reader_reconnects_total", (("reader", "portal-3"),))] == 1
    # idle is connected (answering) and not reading
    assert got[("dockgate_reader_connected", (("reader", "portal-4"),))] == 1
    assert got[("dockgate_reader_connected", (("reader", "portal-5"),))] == 0
    assert got[("dockgate_reader_idle", (("reader", "portal-4"),))] == 1
    assert got[("dockgate_reader_idle", (("reader", "portal-3"),))] == 0
    assert got[("dockgate_reader_idle_episodes_total", (("reader", "portal-4"),))] == 2
    assert got[("dockgate_reader_idle_episodes_total", (("reader", "portal-3"),))] == 0
    assert got[("dockgate_scans_total", ())] == 9
    assert got[("dockgate_scans_dropped_total", (("reader", "scanner-3"), ("reason", "duplicate")))] == 4
    assert got[("dockgate_outbox_pending_events", ())] == 6
    assert got[("dockgate_outbox_healthy", ())] == 0
    assert got[("dockgate_main_loop_last_tick_timestamp_seconds", ())] == T0


def test_scan_counters_count_and_survive_a_reload() -> None:
    config = parse_config(CONFIG)
    flow = Flow(config)
    label = "]C100106141412345678908"
    scans = [ScanRead("scanner-3", 0, "", None, T0 + i * 0.1, text=label) for i in range(3)]  # dedupe_window 1 s
    flow.process([scans, [ScanRead("nowhere", 0, "", None, T0, text=label)]], T0 + 1)
    assert flow.scans is not None
    assert flow.scans.scans_total == 4
    assert flow.scans.dropped() == {("scanner-3", "duplicate"): 2, ("nowhere", "no_read_point"): 1}
    reloaded = Flow(config, identity=flow.pipeline.identity)
    reloaded.adopt(flow, {"dock-3"})
    assert reloaded.scans is not None and reloaded.scans.dropped() == flow.scans.dropped()
    assert reloaded.scans.scans_total == 4
