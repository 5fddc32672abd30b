"""What the demo sees: the reads the gateway's main loop shows it, and the messages the broker delivers."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.config import Config
from gateway.domain.model import TagRead

RATE_WINDOW_S = 2.0  # read rates are averaged over this
TAG_FORGOTTEN_S = 30.0  # a tag not read for this long leaves the view, with or without a departure event


@dataclass
class Tag:
    """A tag in the door, as the reads show it: which side of the door reads it strongest, first and now."""

    location: str | None
    since: float
    last: float
    first_side: str | None = None
    side: str | None = None
    antennas: set[int] = field(default_factory=set)
    reads: deque[tuple[float, str, float]] = field(default_factory=deque)  # (time, side, rssi), the last second

    def add(self, now: float, side: str | None, rssi: float | None) -> None:
        self.last = now
        if side is None or rssi is None:
            return
        self.reads.append((now, side, rssi))
        while self.reads[0][0] < now - 1.0:
            self.reads.popleft()
        strongest: dict[str, float] = {}
        for _, where, level in self.reads:
            strongest[where] = max(level, strongest.get(where, -1e9))
        self.side = max(strongest, key=lambda where: strongest[where])
        if now - self.since < 1.0:
            self.first_side = self.side


@dataclass(frozen=True)
class WatchView:
    """What the watch has seen, copied at one moment for the screen (which runs on its own thread)."""

    sides: dict[tuple[str, int], tuple[str, str | None]]  # (reader, antenna) -> location, side; from the config
    per_antenna: Counter[tuple[str, int]]  # reads/s over the window
    per_tag: Counter[str]  # reads/s over the window
    totals: Counter[tuple[str, int]]
    tags: list[tuple[str, Tag]]  # copies: the main loop goes on changing the watch's own
    events: list[dict[str, Any]]  # newest first
    documents: list[tuple[str, dict[str, Any]]]  # (topic, EPCIS document), newest first
    received: Counter[str]  # messages delivered, per kind
    uris: dict[str, str]  # epc -> pure identity URI, from the events
    status: str  # the gateway's availability as last delivered


class DoorWatch:
    """Counts reads (``tap_batch``, on the gateway's main loop) and collects what the broker delivers
    (``message``, on paho's thread); ``view()`` copies both for the screen. Thread-safe."""

    def __init__(self, config: Config, window: float = RATE_WINDOW_S) -> None:
        self._lock = threading.Lock()
        self.window = window
        self.sides: dict[tuple[str, int], tuple[str, str | None]] = {}  # (reader, antenna) -> location, side
        for location in config.locations:
            for point in location.read_points:
                reader = next(r for r in config.readers if r.name == point.reader)
                for antenna in point.antennas or getattr(reader, "antennas", None) or []:
                    self.sides[(point.reader, antenna)] = (location.name, point.side)
        self._totals: Counter[tuple[str, int]] = Counter()
        self._recent: deque[tuple[float, str, int, str]] = deque()
        self._tags: dict[str, Tag] = {}
        self._events: deque[dict[str, Any]] = deque(maxlen=12)
        self._documents: deque[tuple[str, dict[str, Any]]] = deque(maxlen=6)
        self._received = Counter[str]()
        self._uris: dict[str, str] = {}
        self._status = "?"
        self.log: deque[str] = deque(maxlen=3)  # the last warnings, for the screen's footer

    def tap_batch(self, batch: list[TagRead]) -> None:
        """One batch of reads, before the pipeline sees it (``Gateway.tap_reads``): quick, never raises."""
        now = time.monotonic()
        with self._lock:
            for read in batch:
                location, side = self.sides.get((read.reader, read.antenna), (None, None))
                self._totals[(read.reader, read.antenna)] += 1
                self._recent.append((now, read.reader, read.antenna, read.epc))
                tag = self._tags.get(read.epc)
                if tag is None or now - tag.last > 10:
                    tag = self._tags[read.epc] = Tag(location, now, now)
                tag.add(now, side, read.rssi)
                tag.antennas.add(read.antenna)

    def message(self, topic: str, payload: bytes) -> tuple[str, Any]:
        """Record one delivered message; returns its kind (status, event, epcis, reader, other) and content."""
        kind = "other"
        if "/doors/" in topic:
            kind = "door"
        elif topic.endswith("/status") and "/readers/" not in topic:
            kind = "status"
        elif "/events/" in topic:
            kind = "event"
        elif "/epcis/" in topic:
            kind = "epcis"
        elif "/readers/" in topic:
            kind = "reader"
        content: Any = payload.decode(errors="replace")
        if kind != "status":
            try:
                content = json.loads(payload)
            except ValueError:
                kind = "other"
        with self._lock:
            self._received[kind] += 1
            if kind == "status":
                self._status = content
            elif kind == "event":
                self._events.appendleft(content)
                if content.get("uri"):
                    self._uris[str(content.get("epc"))] = content["uri"]
                if content.get("type") == "departed":
                    self._tags.pop(str(content.get("epc")), None)
            elif kind == "epcis":
                self._documents.appendleft((topic, content))
        return kind, content

    def view(self) -> WatchView:
        """Reads per second over the window (per antenna and per tag) and everything delivered, as of now."""
        now = time.monotonic()
        with self._lock:
            while self._recent and self._recent[0][0] < now - self.window:
                self._recent.popleft()
            per_antenna = Counter((r, a) for _, r, a, _ in self._recent)
            per_tag = Counter(epc for *_, epc in self._recent)
            for epc in [e for e, t in self._tags.items() if now - t.last > TAG_FORGOTTEN_S]:
                del self._tags[epc]
            scale = 1 / self.window
            return WatchView(
                sides=self.sides,
                per_antenna=Counter({k: v * scale for k, v in per_antenna.items()}),
                per_tag=Counter({k: v * scale for k, v in per_tag.items()}),
                totals=self._totals.copy(),
                tags=[(e, replace(t, antennas=set(t.antennas), reads=deque())) for e, t in self._tags.items()],
                events=list(self._events),
                documents=list(self._documents),
                received=self._received.copy(),
                uris=dict(self._uris),
                status=str(self._status),
            )
