"""Whose goods a tag is: the first ``owners`` entry that claims its identity (a GS1 company prefix or an
EPC URI pattern), else ``unassigned``. Asked once per event, never per read; answers are cached. A shipment's
verdict belongs to the owner of all its expected items, when they have one."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from gateway.config.transparency import UNASSIGNED, OwnerSettings
from gateway.core.identity import UriPattern, epc_uri
from gateway.domain.model import LocationEvent

_ID = "urn:epc:id:"
_CACHE_MAX = 100_000
_VERDICTS = frozenset({"shipment_verified", "shipment_exception"})
ExpectedOf = Callable[[str], Iterable[str]]  # a shipment id -> its expected identities and class patterns


def company_prefix(uri: str | None) -> str | None:
    """``urn:epc:id:sgtin:0614141.812345.6789`` -> ``0614141``; None for other URIs."""
    if uri is None or not uri.startswith(_ID):
        return None
    _scheme, colon, body = uri[len(_ID) :].partition(":")
    return body.partition(".")[0] or None if colon else None


class Owners:
    def __init__(self, settings: Iterable[OwnerSettings]) -> None:
        self._prefixes: dict[str, str] = {}  # company prefix -> owner (the first that claims it)
        self._patterns: list[tuple[int, UriPattern, str]] = []  # (rank, pattern, owner)
        self._prefix_rank: dict[str, int] = {}
        names = []
        for rank, owner in enumerate(settings):
            names.append(owner.name)
            for prefix in owner.company_prefixes:
                self._prefixes.setdefault(prefix, owner.name)
                self._prefix_rank.setdefault(prefix, rank)
            self._patterns += [(rank, UriPattern(p), owner.name) for p in owner.patterns]
        self.names: tuple[str, ...] = (*names, UNASSIGNED)
        self._cache: dict[str, str] = {}

    def of(self, uri: str | None) -> str:
        """The owner of the identity ``uri`` (a pure identity URI, or None: not a GS1 identity)."""
        if uri is None:
            return UNASSIGNED
        owner = self._cache.get(uri)
        if owner is None:
            owner = self._resolve(uri)
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[uri] = owner
        return owner

    def of_text(self, text: str) -> str:
        """The owner of an item as lists show it: a hex EPC, an identity URI, or a class ``pattern x N``."""
        text = text.split(" x ", 1)[0].strip()
        if text[:8].lower() == "urn:epc:":
            return self.of(text.replace("urn:epc:idpat:", _ID, 1).split("*", 1)[0])
        return self.of(epc_uri(text))

    def _resolve(self, uri: str) -> str:
        best: tuple[int, str] | None = None
        prefix = company_prefix(uri)
        if prefix is not None and prefix in self._prefixes:
            best = (self._prefix_rank[prefix], self._prefixes[prefix])
        for rank, pattern, owner in self._patterns:
            if best is not None and rank >= best[0]:
                break
            if pattern.matches(uri):
                best = (rank, owner)
                break
        return best[1] if best is not None else UNASSIGNED

    def assign(self, events: Iterable[LocationEvent], expected_of: ExpectedOf | None = None) -> None:
        """Give each event about a tag (an EPC or an identity URI) its owner, and each shipment verdict the one
        owner of all its expected items (``expected_of``: a shipment id -> its identities and class patterns);
        the others (a door's no_read, a verdict on a shipment of several owners' goods) keep None."""
        for event in events:
            if event.owner is not None:
                continue
            if event.epc or event.uri:
                event.owner = self.of(event.uri)
            elif expected_of is not None and event.type in _VERDICTS:
                owners = {self.of_text(item) for item in expected_of(str(event.extra.get("shipment")))}
                if len(owners) == 1:
                    event.owner = owners.pop()
