"""Event ids and times as consumers see them."""

from __future__ import annotations

import uuid

from gateway.domain.model import new_event_id, rfc3339


def test_event_ids_are_unique_version_4_uuids() -> None:
    ids = [new_event_id() for _ in range(50_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:2000]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def test_rfc3339_is_utc_with_milliseconds() -> None:
    assert rfc3339(1_795_939_502.1234) == "2026-11-29T08:05:02.123Z"
    assert rfc3339(0) == "1970-01-01T00:00:00.000Z"
