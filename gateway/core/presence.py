"""Presence: one visit per (tag, location). ``arrived`` after ``arrive_min_reads`` within
``arrive_window``, ``departed`` after ``depart_after`` of silence (a shorter gap does not split a
visit), with the dwell time and the direction of movement; a tag present without a break for
``static_after`` becomes ``static`` and is quiet until it has been gone for ``static_release``."""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Callable, Iterable, Iterator

from gateway.config import PipelineSettings
from gateway.core.identity import IdentityCache
from gateway.domain.model import LocationEvent, PresenceRow, TagRead, antenna_list
from gateway.domain.present import PresentList, PresentTag

SPREAD_FLOOR_S2 = 0.25**2  # s^2: the least spread a side's read times are taken to have
DIRECTION_MIN_CONFIDENCE = 0.6  # below: direction null (with its confidence)
DIRECTION_Z_SCALE = 3.0  # fitted (maximum likelihood: 3.1) on the sweep's departures, docs/accuracy.md


def _power(rssi: float | None) -> float:
    """Linear power (mW) of a read, the weight of its time in the direction estimate."""
    return float(10.0 ** ((rssi if rssi is not None else -70.0) / 10.0))


class _Visit:
    """One tag at one location: a candidate until confirmed, then present until it departs.

    Kept small, there may be a million of them: antennas as a bitmask, the candidate's recent read
    times only while it is a candidate, the per-side direction sums only where read points have sides.
    The location is the dict the visit lives in, not a field.
    """

    __slots__ = (
        "antennas",
        "epc",
        "first_seen",
        "last_seen",
        "reader",
        "reads",
        "recent",
        "rssi_max",
        "sides",
        "static",
    )

    def __init__(self, epc: str, time: float) -> None:
        self.epc = epc
        self.recent: list[float] | None = []
        self.reset(time)

    def reset(self, time: float) -> None:
        self.reader = ""
        self.first_seen = time
        self.last_seen = time
        self.reads = 0
        self.antennas = 0  # bit n set: antenna n read the tag (antenna ids above 1023 share bit 1023)
        self.rssi_max: float | None = None
        self.static = False
        # per side: [reads, sum of w, sum of w * t, sum of w * t^2, sum of w^2] outside, then inside
        self.sides: array[float] | None = None

    def add(self, read: TagRead, side: int) -> None:
        time = read.time
        self.last_seen = time
        self.reads += 1
        self.reader = read.reader
        self.antennas |= 1 << min(read.antenna, 1023)
        rssi = read.rssi
        if rssi is not None and (self.rssi_max is None or rssi > self.rssi_max):
            self.rssi_max = rssi
        if side:
            sides = self.sides
            if sides is None:
                sides = self.sides = array("d", bytes(80))
            weight = _power(rssi)
            base = 5 * (side - 1)
            t = time - self.first_seen
            wt = weight * t
            sides[base] += 1.0
            sides[base + 1] += weight
            sides[base + 2] += wt
            sides[base + 3] += wt * t
            sides[base + 4] += weight * weight

    def direction(self) -> tuple[str | None, float]:
        """``in`` (outside -> inside), ``out``, or None; and the probability that it is right, 0.5..1.

        Compares the power-weighted mean time of the reads on each side: a pallet moving in is
        strongest on the outside antennas first and on the inside antennas later. The confidence is
        Phi(z), z the difference of the two means over its standard error (each side's weighted
        variance over its effective number of reads, Kish's n = W^2 / sum w^2), scaled by
        ``DIRECTION_Z_SCALE`` as calibrated on the generated doors of the sweep (that error estimate is
        conservative: read times on a grid are less random than it assumes; docs/accuracy.md,
        Direction confidence).
        """
        sides = self.sides
        if sides is None or not sides[0] or not sides[5]:
            return None, 0.0
        n_out, w_out, s_out, q_out, w2_out, n_in, w_in, s_in, q_in, w2_in = sides
        t_out = s_out / w_out
        t_in = s_in / w_in
        delta = t_in - t_out
        variance = _mean_variance(w_out, t_out, q_out, w2_out, n_out) + _mean_variance(w_in, t_in, q_in, w2_in, n_in)
        z = DIRECTION_Z_SCALE * abs(delta) / math.sqrt(variance)
        confidence = min(round(0.5 * (1.0 + math.erf(z / math.sqrt(2.0))), 3), 0.999)
        if confidence < DIRECTION_MIN_CONFIDENCE:  # both sides alike: a coin flip is no direction
            return None, confidence
        return ("in" if delta > 0 else "out"), confidence


def _mean_variance(w: float, mean: float, q: float, w2: float, n: float) -> float:
    """The variance of a side's weighted mean time: its spread over its effective number of reads, with a
    floor (a single read, or reads at one instant) of a read period's spread, so one read is no proof."""
    spread = max(q / w - mean * mean, 0.0)
    effective = max(1.0, w * w / w2) if w2 > 0 else 1.0
    return max(spread, SPREAD_FLOOR_S2) / min(effective, n)


class _Place:
    """The visits at one location, each dict in order of last read (oldest first: a read moves its
    visit to the end), so that expiry looks only at the front."""

    __slots__ = ("candidates", "name", "present", "static")

    def __init__(self, name: str) -> None:
        self.name = name
        self.candidates: dict[str, _Visit] = {}
        self.present: dict[str, _Visit] = {}
        self.static: dict[str, _Visit] = {}


class PresenceTracker:
    """Arrived / departed / static per (tag, location). Not thread-safe: the main loop owns it."""

    def __init__(self, settings: PipelineSettings, gateway_id: str, identity: IdentityCache) -> None:
        self._settings = settings
        self._gateway = gateway_id
        self._identity = identity
        self._places: dict[str, _Place] = {}

    def _place(self, location: str) -> _Place:
        place = self._places.get(location)
        if place is None:
            place = self._places[location] = _Place(location)
        return place

    @property
    def present_count(self) -> int:
        return sum(len(p.present) + len(p.static) for p in self._places.values())

    @property
    def tracked_count(self) -> int:
        return sum(len(p.present) + len(p.static) + len(p.candidates) for p in self._places.values())

    def snapshot(self, limit: int) -> list[PresenceRow]:
        """Present and static visits, most recently read first, as rows for the outbox's presence table."""
        rows: list[PresenceRow] = []
        for place in self._places.values():
            for visits, static in ((place.present, False), (place.static, True)):
                for visit in reversed(visits.values()):
                    if len(rows) >= limit:
                        break
                    rows.append(
                        PresenceRow(
                            place.name,
                            visit.epc,
                            visit.first_seen,
                            visit.last_seen,
                            visit.reads,
                            visit.antennas,
                            visit.rssi_max,
                            visit.reader,
                            static,
                        )
                    )
        return rows

    def present_at(self, location: str, limit: int, owner_of: Callable[[str | None], str], taken: float) -> PresentList:
        """The tags present (and static) at ``location`` now, the most recently arrived first, at most
        ``limit`` of them listed; every one counted per owner. O(tags there): once per list, never per read."""
        place = self._places.get(location)
        if place is None:
            return PresentList(location, taken)
        visits = [*place.present.values(), *place.static.values()]
        uri = self._identity.uri
        owners: dict[str, int] = {}
        owner_by_epc: dict[str, str] = {}
        for visit in visits:
            owner = owner_of(uri(visit.epc))
            owner_by_epc[visit.epc] = owner
            owners[owner] = owners.get(owner, 0) + 1
        listed = visits if len(visits) <= limit else heapq.nlargest(limit, visits, key=_since)
        listed.sort(key=_since, reverse=True)
        tags = []
        for visit in listed:
            direction, confidence = visit.direction()
            tags.append(
                PresentTag(
                    visit.epc,
                    uri(visit.epc),
                    owner_by_epc[visit.epc],
                    visit.first_seen,
                    visit.last_seen,
                    tuple(antenna_list(visit.antennas)),
                    visit.reads,
                    direction,
                    confidence,
                    visit.static,
                )
            )
        return PresentList(location, taken, tuple(tags), len(visits) - len(tags), owners)

    def restore(self, rows: Iterable[PresenceRow]) -> int:
        """Visits known to be present before a restart (oldest first). Those at locations that no longer
        exist are skipped; the rest depart in the usual way when they are not read again."""
        count = 0
        for location, epc, first_seen, last_seen, reads, antennas, rssi_max, reader, static in rows:
            place = self._place(location)
            visit = _Visit(epc, first_seen)
            visit.recent = None
            visit.last_seen, visit.reads, visit.antennas = last_seen, reads, antennas
            visit.rssi_max, visit.reader, visit.static = rssi_max, reader, bool(static)
            (place.static if static else place.present)[epc] = visit
            count += 1
        return count

    def adopt(self, other: PresenceTracker, locations: set[str]) -> None:
        """Take over ``other``'s visits at these locations (a config reload that left them unchanged)."""
        for name, place in other._places.items():
            if name in locations:
                self._places[name] = place

    def observe(self, read: TagRead, location: str, side: int, hold: float, events: list[LocationEvent]) -> None:
        """Account one read of a tag at a location; append the events it causes.

        ``hold``: an arrival is confirmed no sooner than this after the visit's first read (door
        arbitration needs that long to see the neighbours' evidence).
        """
        settings = self._settings
        place = self._places.get(location) or self._place(location)
        epc = read.epc
        time = read.time
        present = place.present
        visit = present.get(epc)
        if visit is not None:
            if time - visit.last_seen < settings.depart_after:
                visit.add(read, side)
                del present[epc]
                if time - visit.first_seen < settings.static_after:
                    present[epc] = visit  # to the end: the most recently read
                    return
                visit.static = True
                place.static[epc] = visit
                if settings.static_event:
                    events.append(self._event("static", time, visit, place))
                return
            # silent for depart_after, but no tick ran in between (a late batch, a replay): the old
            # visit ended, and this read may begin a new one
            del present[epc]
            events.append(self._departed(visit, place))
        else:
            visit = place.static.get(epc)
            if visit is not None:
                del place.static[epc]
                if time - visit.last_seen < settings.static_release:
                    visit.add(read, side)
                    place.static[epc] = visit
                    return
                events.append(self._departed(visit, place))
        candidates = place.candidates
        visit = candidates.pop(epc, None)
        if visit is None or visit.recent is None:
            visit = _Visit(epc, time)
        else:
            window_start = time - settings.arrive_window
            times = visit.recent
            if times and times[0] < window_start:
                times[:] = [t for t in times if t >= window_start]
            if not times:  # the earlier reads were too far apart: start over
                visit.reset(time)
        visit.add(read, side)
        recent = visit.recent
        assert recent is not None
        recent.append(time)
        if len(recent) >= settings.arrive_min_reads and time - visit.first_seen >= hold:
            visit.recent = None
            present[epc] = visit
            events.append(self._event("arrived", time, visit, place))
        else:
            candidates[epc] = visit

    def seen_at(self, location: str) -> Iterator[tuple[str, float]]:
        """(epc, last read) of every tag tracked at ``location``, for scan fusion: O(tags tracked there),
        called per scan, never per tag read."""
        place = self._places.get(location)
        if place is None:
            return
        for visits in (place.candidates, place.present, place.static):
            for epc, visit in visits.items():
                yield epc, visit.last_seen

    def tick(self, now: float, events: list[LocationEvent]) -> None:
        """Emit ``departed`` for visits silent for ``depart_after``; forget stale candidates."""
        settings = self._settings
        for place in self._places.values():
            for visit in _expired(place.present, now - settings.depart_after):
                events.append(self._departed(visit, place))
            for visit in _expired(place.static, now - settings.static_release):
                events.append(self._departed(visit, place))
            if place.candidates:
                _expired(place.candidates, now - settings.arrive_window)
                if not place.candidates:
                    place.candidates = {}  # a dict never gives back memory: after a rush, start small again

    def _departed(self, visit: _Visit, place: _Place) -> LocationEvent:
        event = self._event("departed", visit.last_seen, visit, place)
        event.direction, event.direction_confidence = visit.direction()
        return event

    def _event(self, kind: str, time: float, visit: _Visit, place: _Place) -> LocationEvent:
        return LocationEvent(
            type=kind,
            time=time,
            gateway=self._gateway,
            location=place.name,
            reader=visit.reader,
            epc=visit.epc,
            antennas=antenna_list(visit.antennas),
            reads=visit.reads,
            rssi_max=visit.rssi_max,
            first_seen=visit.first_seen,
            last_seen=visit.last_seen,
            uri=self._identity.uri(visit.epc),
            static=visit.static,
        )


def _since(visit: _Visit) -> float:
    return visit.first_seen


def _expired(visits: dict[str, _Visit], before: float) -> list[_Visit]:
    """Remove and return the visits last read at or before ``before`` (they are at the front)."""
    gone: list[_Visit] = []
    for visit in visits.values():  # one pass over the front, then stop
        if visit.last_seen > before:
            break
        gone.append(visit)
    for visit in gone:
        del visits[visit.epc]
    return gone
