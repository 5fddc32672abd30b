"""``dockgate bench accuracy``, shipments: the verdicts and lists of the shipment book against ground truth.

A scenario's ``shipments:`` block (format: ``simulators/scenarios/README.md``) gives each shipment's order
as posted, when it is posted (and closed, if a clerk closes it) in scenario time, and what physically
happened to it: the verdict and the exact lists ``missing``, ``unexpected``, ``wrong_door`` and
``wrong_direction``. The scenario is replayed through the real pipeline on simulated time, turn by turn as
the gateway's main loop runs it (pipeline, commands due, ``observe``, ``tick``), and scored:

- the verdict is right, and each list equals the truth exactly (as sets: the order items arrive in is not
  part of the truth; ``missing`` as the order names them, a class short of its quantity as ``pattern x N``);
- every ``unexpected_item`` and ``wrong_door`` exception is emitted within ``EXCEPTION_BOUND_S`` of the
  true arrival of its item (the start of its true visit at that door), in simulated seconds, and every
  item on those truth lists gets one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from gateway.bench.pipeline_run import EPOCH, STEP_S, ReplayReads, site_config
from gateway.config import Config
from gateway.core.identity import epc_uri
from gateway.core.pipeline import Pipeline
from gateway.domain.model import LocationEvent
from gateway.shipments.book import ShipmentBook
from gateway.shipments.commands import Command
from gateway.shipments.order import ShipmentOrder
from simulators.llrp.durations import ScenarioError, duration_seconds
from simulators.llrp.scenario import Pallet, Scenario

EXCEPTION_BOUND_S = 1.0  # an exception for an item reaches the door within this of the item's arrival
TIMED_REASONS = ("unexpected_item", "wrong_door")  # raised on arrival (wrong_direction waits for departure)

Seconds = Annotated[float, BeforeValidator(duration_seconds)]


# ---- the ``shipments:`` block ---------------------------------------------------------------------------


class PalletRef(BaseModel):
    """Every tag of one of the scenario's pallets: as EPC hex, or as pure identity URIs (an ASN's form)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pallet: str
    as_: Literal["epc", "uri"] = Field("epc", alias="as")


class TaggedRef(BaseModel):
    """A tag (``epc``) or every tag of a pallet, at a door (``location``) or moving a way (``direction``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epc: str | None = None
    pallet: str | None = None
    location: str | None = None  # wrong_door: default the pallet's true location
    direction: Literal["in", "out"] | None = None  # wrong_direction: default the visit's true direction


class TruthEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: Literal["verified", "exception"]
    close_reason: Literal["closed", "close_after", "deadline"] | None = None
    missing: list[str | PalletRef] = []
    unexpected: list[str | PalletRef] = []
    wrong_door: list[TaggedRef] = []
    wrong_direction: list[TaggedRef] = []


class ShipmentEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    order: dict[str, Any]  # a ShipmentOrder; items may be PalletRefs, deadline is in scenario time
    post: Seconds
    close: Seconds | None = None  # a close command at this scenario time
    truth: TruthEntry


# ---- what the block means --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShipmentTruth:
    verdict: str
    close_reason: str | None = None
    missing: tuple[str, ...] = ()  # sorted
    unexpected: frozenset[str] = frozenset()  # EPC hex
    wrong_door: frozenset[tuple[str, str]] = frozenset()  # (EPC hex, door)
    wrong_direction: frozenset[tuple[str, str]] = frozenset()  # (EPC hex, direction)


@dataclass(frozen=True)
class ShipmentCase:
    order: ShipmentOrder
    post_s: float
    close_s: float | None
    truth: ShipmentTruth


def shipment_cases(scenario: Scenario) -> list[ShipmentCase]:
    """The scenario's shipments; ScenarioError names the path of a bad field (``shipments[1].truth.verdict``)."""
    pallets = {p.name: p for p in scenario.pallets}
    cases: list[ShipmentCase] = []
    for i, raw in enumerate(scenario.shipments):
        path = f"shipments[{i}]"
        try:
            entry = ShipmentEntry.model_validate(raw)
        except ValidationError as exc:
            raise ScenarioError(f"{path}{_first_error(exc)}") from exc
        try:
            order = ShipmentOrder.model_validate(_order_doc(entry, pallets))
        except ValidationError as exc:
            raise ScenarioError(f"{path}.order{_first_error(exc)}") from exc
        except ValueError as exc:
            raise ScenarioError(f"{path}.order: {exc}") from exc
        try:
            cases.append(ShipmentCase(order, entry.post, entry.close, _truth(entry.truth, pallets)))
        except ValueError as exc:
            raise ScenarioError(f"{path}.truth: {exc}") from exc
    return cases


def _first_error(exc: ValidationError) -> str:
    """``.field[2]: what is wrong`` for the first of pydantic's errors."""
    first = exc.errors(include_url=False)[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
    return f"{where}: {first['msg']}"


def _pallet(pallets: dict[str, Pallet], name: str) -> Pallet:
    if name not in pallets:
        raise ValueError(f"no pallet {name!r} in this scenario (pallets: {', '.join(pallets)})")
    return pallets[name]


def _identities(ref: str | PalletRef, pallets: dict[str, Pallet]) -> list[str]:
    if isinstance(ref, str):
        return [ref]
    epcs = list(_pallet(pallets, ref.pallet).epcs)
    if ref.as_ == "epc":
        return epcs
    uris = [epc_uri(e) for e in epcs]
    if any(u is None for u in uris):
        raise ValueError(f"pallet {ref.pallet!r} has a tag without a pure identity URI: list it as epc")
    return [u for u in uris if u is not None]


def _order_doc(entry: ShipmentEntry, pallets: dict[str, Pallet]) -> dict[str, Any]:
    doc = dict(entry.order)
    doc["items"] = [i for ref in doc.get("items", []) for i in _identities(_item_ref(ref), pallets)]
    if doc.get("deadline") is not None:
        doc["deadline"] = datetime.fromtimestamp(EPOCH + duration_seconds(doc["deadline"]), UTC).isoformat()
    return doc


def _truth(t: TruthEntry, pallets: dict[str, Pallet]) -> ShipmentTruth:
    def hexes(ref: str | PalletRef) -> list[str]:
        return [ref.upper()] if isinstance(ref, str) else list(_pallet(pallets, ref.pallet).epcs)

    def tagged(ref: TaggedRef, key: Literal["location", "direction"]) -> list[tuple[str, str]]:
        if (ref.epc is None) == (ref.pallet is None):
            raise ValueError("a list entry names exactly one of epc, pallet")
        given = getattr(ref, key)
        if ref.pallet is not None:
            p = _pallet(pallets, ref.pallet)
            default = p.location if key == "location" else _one_direction(p)
            return [(e, given or default) for e in p.epcs]
        assert ref.epc is not None
        if given is None:
            raise ValueError(f"an entry with an epc needs its {key}")
        return [(ref.epc.upper(), given)]

    return ShipmentTruth(
        verdict=t.verdict,
        close_reason=t.close_reason,
        missing=tuple(sorted(i for ref in t.missing for i in _identities(ref, pallets))),
        unexpected=frozenset(e for ref in t.unexpected for e in hexes(ref)),
        wrong_door=frozenset(x for ref in t.wrong_door for x in tagged(ref, "location")),
        wrong_direction=frozenset(x for ref in t.wrong_direction for x in tagged(ref, "direction")),
    )


def _item_ref(value: object) -> str | PalletRef:
    return PalletRef.model_validate(value) if isinstance(value, dict) else str(value)


def _one_direction(p: Pallet) -> str:
    directions = {v.direction for v in p.visits if not v.stray and v.direction}
    if len(directions) != 1:
        raise ValueError(f"pallet {p.name!r} moves {sorted(directions)}: give the direction")
    return str(directions.pop())


# ---- the replay -----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What the book said about one shipment: its verdict event and its item exceptions with when they
    were emitted (the main-loop turn, scenario seconds)."""

    verdict: LocationEvent | None = None
    closed_s: float | None = None
    exceptions: list[tuple[float, LocationEvent]] = field(default_factory=list)
    refused: str | None = None  # the post was refused: why


def replay_shipments(
    scenario: Scenario, cases: Sequence[ShipmentCase], config: Config | None = None, step_s: float = STEP_S
) -> dict[str, Outcome]:
    """Each turn as the main loop runs it: the pipeline's events, the commands due (post, close), then
    ``observe`` and ``tick`` on the book."""
    config = config or site_config(scenario)
    pipeline = Pipeline(config)
    book = ShipmentBook(config)
    reads = ReplayReads(scenario, config.readers[0].name)
    outcomes = {c.order.id: Outcome() for c in cases}
    due: list[tuple[float, int, Command]] = []
    for k, c in enumerate(cases):
        due.append((c.post_s, 2 * k, Command("post", c.order.id, c.order, "bench", "bench")))
        if c.close_s is not None:
            due.append((c.close_s, 2 * k + 1, Command("close", c.order.id, None, "bench", "bench")))
    due.sort(key=lambda d: (d[0], d[1]))
    latest = max([scenario.duration_s, *(d[0] for d in due)])
    end_s = latest + config.pipeline.depart_after + 1.0
    t = 0.0
    while t < end_s:
        t = round(t + step_s, 6)
        now = EPOCH + t
        events = pipeline.process(reads.until(t), now)
        while due and due[0][0] <= t:
            _, _, cmd = due.pop(0)
            reply, made = book.command(cmd, now)
            if not reply.accepted and cmd.action == "post":
                outcomes[cmd.shipment_id].refused = reply.reason
            events += made
        events += book.observe(events, now)
        events += book.tick(now)
        for e in events:
            outcome = outcomes.get(str(e.extra.get("shipment", "")))
            if outcome is None:
                continue
            if e.type == "exception":
                outcome.exceptions.append((t, e))
            elif e.type.startswith("shipment_"):
                outcome.verdict, outcome.closed_s = e, t
    return outcomes


# ---- the score ------------------------------------------------------------------------------------------


@dataclass
class ShipmentScore:
    scenario: str
    shipment: str
    verdict: str | None  # verified | exception | None (never closed, or refused)
    true_verdict: str
    verdict_ok: bool
    lists_ok: dict[str, bool]  # missing, unexpected, wrong_door, wrong_direction
    exact: bool  # the verdict and every list
    close_reason: str | None
    closed_s: float | None
    timed_exceptions: int  # unexpected_item / wrong_door exceptions raised
    timed_expected: int  # items on the truth's unexpected and wrong_door lists
    late_exceptions: int  # raised later than EXCEPTION_BOUND_S after the true arrival, or never
    exception_latency_max_s: float | None
    exception_after_arrived_max_s: float | None  # the book's own part: emitted - the arrived event's time
    on_time: bool  # every expected exception raised, none late
    got: dict[str, Any] = field(default_factory=dict)  # the verdict's lists, for a reader of a failure


def score_shipment(scenario: Scenario, case: ShipmentCase, outcome: Outcome) -> ShipmentScore:
    truth = case.truth
    v = outcome.verdict
    got: dict[str, Any] = {"refused": outcome.refused} if outcome.refused else {}
    verdict = None
    if v is not None:
        verdict = v.type.removeprefix("shipment_")
        x = v.extra
        got = {
            "missing": sorted(x["missing"]),
            "unexpected": sorted(u["epc"] for u in x["unexpected"]),
            "wrong_door": sorted((w["epc"], w["location"]) for w in x["wrong_door"]),
            "wrong_direction": sorted((w["epc"], w["direction"]) for w in x["wrong_direction"]),
        }
    lists_ok = {
        "missing": v is not None and got["missing"] == list(truth.missing),
        "unexpected": v is not None and got["unexpected"] == sorted(truth.unexpected),
        "wrong_door": v is not None and got["wrong_door"] == sorted(truth.wrong_door),
        "wrong_direction": v is not None and got["wrong_direction"] == sorted(truth.wrong_direction),
    }
    reason = str(v.extra["close_reason"]) if v is not None else None
    verdict_ok = verdict == truth.verdict and (truth.close_reason is None or reason == truth.close_reason)

    # exceptions raised on arrival: when, against the true arrival of the item at that door
    visits = scenario.truth()
    expected = {(e, "unexpected_item") for e in truth.unexpected}
    expected |= {(e, "wrong_door") for e, _ in truth.wrong_door}
    latencies: list[float] = []
    after_arrived: list[float] = []
    late = 0
    raised: set[tuple[str, str]] = set()
    for emitted_s, e in outcome.exceptions:
        if e.reason not in TIMED_REASONS:
            continue
        raised.add((e.epc, str(e.reason)))
        after_arrived.append(emitted_s - (e.time - EPOCH))
        starts = [tv.start_s for tv in visits if tv.epc == e.epc and tv.location == e.location]
        arrival = max((s for s in starts if s <= emitted_s), default=None)
        if arrival is None:  # no true visit there: an exception for something that did not happen
            late += 1
            continue
        latency = emitted_s - arrival
        latencies.append(latency)
        late += latency > EXCEPTION_BOUND_S
    never = len(expected - raised)
    timed = sum(1 for _, e in outcome.exceptions if e.reason in TIMED_REASONS)
    return ShipmentScore(
        scenario=scenario.name,
        shipment=case.order.id,
        verdict=verdict,
        true_verdict=truth.verdict,
        verdict_ok=verdict_ok,
        lists_ok=lists_ok,
        exact=verdict_ok and all(lists_ok.values()),
        close_reason=reason,
        closed_s=outcome.closed_s,
        timed_exceptions=timed,
        timed_expected=len(expected),
        late_exceptions=late + never,
        exception_latency_max_s=round(max(latencies), 3) if latencies else None,
        exception_after_arrived_max_s=round(max(after_arrived), 3) if after_arrived else None,
        on_time=late + never == 0,
        got=got,
    )


def score(scenario: Scenario, config: Config | None = None) -> list[ShipmentScore]:
    """Every shipment of the scenario, replayed and scored ([] for a scenario without shipments)."""
    cases = shipment_cases(scenario)
    if not cases:
        return []
    outcomes = replay_shipments(scenario, cases, config)
    return [score_shipment(scenario, c, outcomes[c.order.id]) for c in cases]


def table(scores: Sequence[ShipmentScore]) -> str:
    def ok(value: bool) -> str:
        return "ok" if value else "WRONG"

    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    w = max([22, *(len(s.scenario) for s in scores)])
    header = (
        f"{'scenario':<{w}} {'shipment':<9} {'verdict':<9} {'truth':<9} {'missing':>7} {'unexp':>5} "
        f"{'w.door':>6} {'w.dir':>5} {'exact':>5} {'exc':>5} {'<=1 s':>5} {'exc max s':>9} {'after arr s':>11}"
    )
    lines = [header, "-" * len(header)]
    for s in scores:
        lists = s.lists_ok
        on_time = max(0, s.timed_expected - s.late_exceptions)
        lines.append(
            f"{s.scenario:<{w}} {s.shipment:<9} {s.verdict or '-':<9} {s.true_verdict:<9} "
            f"{ok(lists['missing']):>7} {ok(lists['unexpected']):>5} {ok(lists['wrong_door']):>6} "
            f"{ok(lists['wrong_direction']):>5} {'yes' if s.exact else 'NO':>5} "
            f"{s.timed_exceptions:>2}/{s.timed_expected:<2} {on_time:>5} "
            f"{secs(s.exception_latency_max_s):>9} {secs(s.exception_after_arrived_max_s):>11}"
        )
    return "\n".join(lines)
