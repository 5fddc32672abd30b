"""One shipment's verification state: which expected items have passed, and what went wrong.

An item counts once (an EPC seen twice, or arriving again after a restart, is one item). An exact
identity is expected by EPC hex or by its pure identity URI; a class by its pattern, up to its quantity
(beyond it, an item of that class is unexpected). A mis-loaded item (seen at another door) stays on the
``wrong_door`` list unless it later passes the right door.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.core.identity import UriPattern
from gateway.domain.model import rfc3339
from gateway.shipments.order import ShipmentOrder

State = Literal["open", "loading", "verified", "exception", "cancelled"]
OPEN_STATES = ("open", "loading")
LIST_MAX = 200  # entries per list in a view (the counts are complete)


@dataclass(slots=True)
class Shipment:
    order: ShipmentOrder
    opened: float
    source: str = ""
    actor: str = ""
    state: State = "open"
    closed: float | None = None
    close_reason: str = ""
    acknowledged: bool = False
    last_match: float | None = None
    seen: dict[str, str] = field(default_factory=dict)  # epc -> what it counted as ("item:<id>" | "class:<i>")
    class_counts: list[int] = field(default_factory=list)
    unexpected: dict[str, str | None] = field(default_factory=dict)  # epc -> uri
    wrong_door: dict[str, str] = field(default_factory=dict)  # epc -> the door it was seen at
    wrong_direction: dict[str, str] = field(default_factory=dict)  # epc -> the direction it moved
    _hex: frozenset[str] = frozenset()
    _uris: frozenset[str] = frozenset()
    _patterns: tuple[UriPattern, ...] = ()

    def __post_init__(self) -> None:
        items = self.order.items
        self._hex = frozenset(i for i in items if not i.startswith("urn:"))
        self._uris = frozenset(i for i in items if i.startswith("urn:"))
        self._patterns = tuple(UriPattern(c.pattern) for c in self.order.classes)
        if not self.class_counts:  # derived from what was counted (a restored shipment brings only that)
            self.class_counts = [0] * len(self._patterns)
            for key in self.seen.values():
                if key.startswith("class:"):
                    self.class_counts[int(key[6:])] += 1

    @property
    def id(self) -> str:
        return self.order.id

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def expects(self, epc: str, uri: str | None) -> str | None:
        """What ``epc`` would count as in this shipment, or None: not expected here."""
        counted = self.seen.get(epc)
        if counted is not None:
            return counted
        if epc in self._hex:
            return f"item:{epc}"
        if uri is not None:
            if uri in self._uris:
                return f"item:{uri}"
            for i, pattern in enumerate(self._patterns):
                if pattern.matches(uri):
                    return f"class:{i}"
        return None

    def count(self, epc: str, key: str, now: float) -> bool:
        """The item passed the right door: True if it counts now (False: counted before, or its class is full)."""
        if epc in self.seen:
            return False
        if key.startswith("class:"):
            i = int(key[6:])
            if self.class_counts[i] >= self.order.classes[i].quantity:
                return False
            self.class_counts[i] += 1
        self.seen[epc] = key
        self.wrong_door.pop(epc, None)
        self.last_match = now
        if self.state == "open":
            self.state = "loading"
        return True

    def uncount(self, epc: str) -> None:
        """It moved the wrong way after all: it no longer counts as passed."""
        key = self.seen.pop(epc, None)
        if key is not None and key.startswith("class:"):
            self.class_counts[int(key[6:])] -= 1

    @property
    def expected_count(self) -> int:
        return self.order.size()

    @property
    def seen_count(self) -> int:
        return len(self.seen)

    def missing(self) -> list[str]:
        """Exact identities not seen, then each class short of its quantity as ``pattern x N``."""
        counted = set(self.seen.values())
        out = [item for item in self.order.items if f"item:{item}" not in counted]
        for i, c in enumerate(self.order.classes):
            short = c.quantity - self.class_counts[i]
            if short > 0:
                out.append(f"{c.pattern} x {short}")
        return out

    def missing_count(self) -> int:
        return self.expected_count - self.seen_count

    def verdict(self) -> State:
        clean = not (self.missing_count() or self.unexpected or self.wrong_door or self.wrong_direction)
        return "verified" if clean else "exception"

    def close(self, now: float, reason: str) -> State:
        self.state = self.verdict()
        self.closed = now
        self.close_reason = reason
        return self.state

    def lists(self) -> dict[str, Any]:
        return {
            "missing": self.missing()[:LIST_MAX],
            "unexpected": [{"epc": e, "uri": u} for e, u in list(self.unexpected.items())[:LIST_MAX]],
            "wrong_door": [{"epc": e, "location": loc} for e, loc in list(self.wrong_door.items())[:LIST_MAX]],
            "wrong_direction": [{"epc": e, "direction": d} for e, d in list(self.wrong_direction.items())[:LIST_MAX]],
        }

    def view(self) -> dict[str, Any]:
        """As the API and the snapshot show it."""
        o = self.order
        return {
            "id": o.id,
            "location": o.location,
            "direction": o.direction,
            "state": self.state,
            "expected": self.expected_count,
            "seen": self.seen_count,
            "missing_count": self.missing_count(),
            **self.lists(),
            "opened": rfc3339(self.opened),
            "closed": rfc3339(self.closed) if self.closed is not None else None,
            "close_reason": self.close_reason or None,
            "deadline": o.deadline.isoformat() if o.deadline is not None else None,
            "close_after": o.close_after,
            "acknowledged": self.acknowledged,
            "source": self.source,
            "actor": self.actor,
        }

    # ---- durable form -------------------------------------------------------------------------------

    def to_doc(self) -> dict[str, Any]:
        return {
            "order": self.order.model_dump(mode="json"),
            "opened": self.opened,
            "source": self.source,
            "actor": self.actor,
            "state": self.state,
            "closed": self.closed,
            "close_reason": self.close_reason,
            "acknowledged": self.acknowledged,
            "last_match": self.last_match,
            "seen": self.seen,
            "unexpected": self.unexpected,
            "wrong_door": self.wrong_door,
            "wrong_direction": self.wrong_direction,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Shipment:
        return cls(
            order=ShipmentOrder.model_validate(doc["order"]),
            opened=doc["opened"],
            source=doc.get("source", ""),
            actor=doc.get("actor", ""),
            state=doc["state"],
            closed=doc.get("closed"),
            close_reason=doc.get("close_reason", ""),
            acknowledged=doc.get("acknowledged", False),
            last_match=doc.get("last_match"),
            seen=dict(doc.get("seen", {})),
            unexpected=dict(doc.get("unexpected", {})),
            wrong_door=dict(doc.get("wrong_door", {})),
            wrong_direction=dict(doc.get("wrong_direction", {})),
        )
