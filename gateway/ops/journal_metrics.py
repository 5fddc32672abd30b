"""Journal metrics, from the snapshot at scrape time like the others (``gateway.ops.metrics``)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from gateway.ops.snapshot import GatewaySnapshot


def journal_metrics(snap: GatewaySnapshot) -> Iterator[Metric]:
    journal = snap.journal
    if journal is None:
        return
    yield GaugeMetricFamily(
        "dockgate_journal_entry_seq", "Seq of the newest entry linked into the journal.", value=journal.entry_seq
    )
    yield GaugeMetricFamily(
        "dockgate_journal_checkpoint_seq",
        "Seq covered by the newest signed checkpoint (entries above it are linked, not yet signed).",
        value=journal.checkpoint_seq,
    )
    age = GaugeMetricFamily(
        "dockgate_journal_checkpoint_age_seconds", "Seconds since the newest signed checkpoint (absent: none yet)."
    )
    if journal.checkpointed_at is not None:
        age.add_metric([], max(0.0, time.time() - journal.checkpointed_at))
    yield age
    yield GaugeMetricFamily(
        "dockgate_journal_signing",
        "1 when the journal's signing key is loaded, 0 when it is unusable.",
        value=1 if journal.signing else 0,
    )
