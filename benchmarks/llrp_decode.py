"""Per-read cost of an RO_ACCESS_REPORT in the LLRP driver: sllurp's decoder vs the struct fast path,
and the rest of the per-read work (TagRead objects). Prints figures; asserts nothing.

    PYTHONPATH=. python benchmarks/llrp_decode.py
"""

from __future__ import annotations

import time

from drivers.llrp import wire
from gateway.domain.model import TagRead
from simulators.llrp import frames as f

TAGS_PER_REPORT = 100
REPEAT = 200


def report() -> bytes:
    enc = f.TagReportEncoder(
        f.ContentSelector(antenna_id=True, peak_rssi=True, first_seen=True, last_seen=True, tag_seen_count=True)
    )
    tags = [
        enc.encode(enc.prefix(i.to_bytes(12, "big")), 1 + i % 4, -40 - i % 30, 1_700_000_000_000_000 + i)
        for i in range(TAGS_PER_REPORT)
    ]
    return f.ro_access_report(1, tags)


def rate(fn: object, frame: bytes) -> float:
    call = fn  # type: ignore[assignment]
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(REPEAT):
            call(frame)  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return TAGS_PER_REPORT * REPEAT / best


def to_reads(tags: list[wire.TagReport]) -> list[TagRead]:
    now = time.time()
    return [
        TagRead(
            "portal",
            t.antenna or 0,
            t.epc,
            float(t.rssi) if t.rssi is not None else None,
            now,
            (t.last_seen_us or 0) / 1e6 or None,
            t.seen_count or 1,
        )
        for t in tags
    ]


def main() -> None:
    frame = report()
    tags = wire.decode_tag_reports(frame)
    assert tags == wire.tag_reports_via_sllurp(frame)
    sllurp = rate(wire.tag_reports_via_sllurp, frame)
    fast = rate(wire.decode_tag_reports, frame)
    build = rate(lambda _f: to_reads(tags), frame)
    print(f"report: {TAGS_PER_REPORT} tags, {len(frame)} bytes; best of 5 x {REPEAT} reports")
    print(f"sllurp decode      {sllurp:>10,.0f} tags/s  {1e6 / sllurp:6.2f} us/tag")
    print(f"fast path decode   {fast:>10,.0f} tags/s  {1e6 / fast:6.2f} us/tag  ({fast / sllurp:.1f}x)")
    print(f"TagRead objects    {build:>10,.0f} tags/s  {1e6 / build:6.2f} us/tag")
    share = (1 / sllurp) / (1 / sllurp + 1 / build)
    print(
        f"with sllurp, decoding is {share:.0%} of decode + TagRead; with the fast path "
        f"{(1 / fast) / (1 / fast + 1 / build):.0%}"
    )


if __name__ == "__main__":
    main()
