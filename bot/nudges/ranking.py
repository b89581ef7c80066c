"""Which open opportunity fits a member best: pure scoring, no database.

The score mixes fit (confirmed skills to share, learning wishes), the network,
the closing date, what the member said before, and fairness: a member who has
given a lot is offered chances to learn first, and the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date
from typing import Any

#: "No thank you" this many times to one kind of opportunity lowers that kind.
DECLINES_TO_LOWER = 3
OWN_NETWORK = 1.0
COMMUNITY = 0.85
CLOSING_SOON_DAYS = 7
CLOSING_SOON = 1.2
ASKED_LATER = 0.5
LESS_WANTED = 0.75


@dataclass(frozen=True)
class OpenOpportunity:
    """What ranking needs to know about an open opportunity."""

    id: int
    categories: frozenset[str]
    kind: str
    network: str | None
    closes_on: date | None = None
    places: int | None = None


@dataclass(slots=True)
class MemberFacts:
    """What ranking needs to know about a member."""

    member_id: int
    network: str
    skills: AbstractSet[str] = frozenset()  # categories of confirmed skills
    wishes: AbstractSet[str] = frozenset()  # categories of learning wishes
    declines: dict[str, Any] = field(default_factory=dict)  # kind -> "No thank you" count
    gave: int = 0
    received: int = 0
    seen: AbstractSet[int] = field(default_factory=set)  # asked before (not "Not now")
    later: AbstractSet[int] = field(default_factory=set)  # answered "Not now" before


@dataclass(frozen=True)
class Pick:
    """The chosen opportunity, its score, and whether it is giving or learning."""

    opportunity_id: int
    score: float
    direction: str  # give | learn


def kind_weight(declines: int) -> float:
    """How much a kind counts after ``declines`` "No thank you" answers: halved every 3."""
    return 0.5 ** (max(0, declines) // DECLINES_TO_LOWER)


def _fit(count: int, weight: float) -> float:
    """How well ``count`` shared categories fit (1 for the first, a little more for others)."""
    return (1.0 + 0.25 * min(count - 1, 2)) * weight if count else 0.0


def _value(member: MemberFacts, opp: OpenOpportunity, give: int, learn: int, base: float) -> Pick:
    """The score for ``give`` categories to share and ``learn`` to learn, times ``base``."""
    give_fit = _fit(give, LESS_WANTED if member.gave > member.received else 1.0)
    learn_fit = _fit(learn, LESS_WANTED if member.received > member.gave else 1.0)
    value = (max(give_fit, learn_fit) + 0.25 * min(give_fit, learn_fit)) * base
    if member.declines:
        value *= kind_weight(int(member.declines.get(opp.kind, 0)))
    if member.later and opp.id in member.later:
        value *= ASKED_LATER
    return Pick(opp.id, value, "give" if give_fit >= learn_fit else "learn")


def _base(opp: OpenOpportunity, today: date) -> float:
    """The part of the score that is the same for everyone: network and closing date."""
    value = OWN_NETWORK if opp.network is not None else COMMUNITY
    if opp.closes_on is not None and (opp.closes_on - today).days <= CLOSING_SOON_DAYS:
        value *= CLOSING_SOON
    return value


def score(member: MemberFacts, opp: OpenOpportunity, today: date) -> Pick | None:
    """The member's score for one opportunity, or ``None`` when it does not fit at all."""
    if opp.id in member.seen:
        return None
    if opp.network is not None and opp.network != member.network:
        return None
    if opp.closes_on is not None and opp.closes_on < today:
        return None
    give = len(opp.categories & member.skills)
    learn = len(opp.categories & member.wishes)
    if not give and not learn:
        return None
    return _value(member, opp, give, learn, _base(opp, today))


class Catalogue:
    """Open opportunities indexed by network and category, for ranking many members fast."""

    def __init__(self, opportunities: Iterable[OpenOpportunity], today: date) -> None:
        """Index the opportunities that are still open on ``today``."""
        self.today = today
        open_now = [o for o in opportunities if o.closes_on is None or o.closes_on >= today]
        self._base = {o.id: _base(o, today) for o in open_now}
        self._everyone = _by_category(o for o in open_now if o.network is None)
        self._own: dict[str, list[OpenOpportunity]] = {}
        for opp in open_now:
            if opp.network is not None:
                self._own.setdefault(opp.network, []).append(opp)
        self._by_network: dict[str, dict[str, list[OpenOpportunity]]] = {}
        self._kind = {o.id: o.kind for o in open_now}
        self._ids: dict[str, dict[str, tuple[int, ...]]] = {}
        self._tables: dict[tuple[bool, bool], dict[int, tuple[float, str]]] = {}
        #: Ids of the opportunities that can be offered (open, not past their closing date).
        self.ids = [o.id for o in open_now]

    def _index(self, network: str) -> dict[str, list[OpenOpportunity]]:
        """Category -> opportunities a member of ``network`` may be offered."""
        own = self._own.get(network)
        if not own:
            return self._everyone
        index = self._by_network.get(network)
        if index is None:
            index = {c: list(opps) for c, opps in self._everyone.items()}
            for category, opps in _by_category(own).items():
                index.setdefault(category, []).extend(opps)
            self._by_network[network] = index
        return index

    def _counts(self, member: MemberFacts) -> dict[int, list[Any]]:
        """Candidate id -> [opportunity, categories to share, categories to learn]."""
        index = self._index(member.network)
        counts: dict[int, list[Any]] = {}
        seen = member.seen
        for position, categories in ((1, member.skills), (2, member.wishes)):
            for category in categories:
                for opp in index.get(category, ()):
                    entry = counts.get(opp.id)
                    if entry is None:
                        if opp.id in seen:
                            continue
                        entry = counts[opp.id] = [opp, 0, 0]
                    entry[position] += 1
        return counts

    def rank(self, member: MemberFacts, load: dict[int, int] | None = None) -> list[Pick]:
        """Every fitting opportunity for the member, best first; ties go to the one asked least."""
        picks = [
            _value(member, opp, give, learn, self._base[opp_id])
            for opp_id, (opp, give, learn) in self._counts(member).items()
        ]
        load = load or {}
        picks.sort(key=lambda p: (-p.score, load.get(p.opportunity_id, 0), p.opportunity_id))
        return picks

    def best(
        self, member: MemberFacts, load: dict[int, int], has_room: Callable[[int], bool]
    ) -> Pick | None:
        """The first pick :meth:`rank` would give whose opportunity still has room (fast).

        The same scores as :func:`score`; this is the planning sweep's inner loop,
        so categories shared are counted in one number per opportunity (to share
        in the low bits, to learn from bit 6) and scored from a table.
        """
        index = self._ids_by_category(member.network)
        counts: dict[int, int] = {}
        get = counts.get
        for category in member.skills:
            for opp_id in index.get(category, ()):
                counts[opp_id] = get(opp_id, 0) + 1
        for category in member.wishes:
            for opp_id in index.get(category, ()):
                counts[opp_id] = get(opp_id, 0) + _LEARN
        if not counts:
            return None
        table = self._fit_table(member.gave > member.received, member.received > member.gave)
        seen, declines, later, base = member.seen, member.declines, member.later, self._base
        scored = []
        for opp_id, both in counts.items():
            if opp_id in seen:
                continue
            fit = table.get(both)
            if fit is None:
                fit = table[both] = _table_entry(both, *self._weights(member))
            value = fit[0] * base[opp_id]
            if declines:
                value *= kind_weight(int(declines.get(self._kind[opp_id], 0)))
            if later and opp_id in later:
                value *= ASKED_LATER
            scored.append((-value, load.get(opp_id, 0), opp_id, fit[1]))
        if not scored:
            return None
        first = min(scored)
        if has_room(first[2]):
            return Pick(first[2], -first[0], first[3])
        scored.sort()
        for negative, _, opp_id, direction in scored:
            if has_room(opp_id):
                return Pick(opp_id, -negative, direction)
        return None

    def _ids_by_category(self, network: str) -> dict[str, tuple[int, ...]]:
        """Category -> ids of the opportunities a member of ``network`` may be offered."""
        ids = self._ids.get(network)
        if ids is None:
            index = self._index(network)
            key = _SHARED if index is self._everyone else network
            ids = self._ids.get(key)
            if ids is None:
                ids = self._ids[key] = {c: tuple(o.id for o in opps) for c, opps in index.items()}
            self._ids[network] = ids
        return ids

    def _fit_table(self, gave_more: bool, received_more: bool) -> dict[int, tuple[float, str]]:
        """Counts (as in :meth:`best`) -> (fit, direction), for one giving/receiving balance."""
        return self._tables.setdefault((gave_more, received_more), {})

    @staticmethod
    def _weights(member: MemberFacts) -> tuple[float, float]:
        """How much sharing and learning count for this member (balance of give and take)."""
        give_weight = LESS_WANTED if member.gave > member.received else 1.0
        learn_weight = LESS_WANTED if member.received > member.gave else 1.0
        return give_weight, learn_weight


#: The key of the index shared by every network without offers of its own.
_SHARED = "\x00every network"
#: :meth:`Catalogue.best` counts categories to learn from this bit on.
_LEARN = 64


def _table_entry(both: int, give_weight: float, learn_weight: float) -> tuple[float, str]:
    """Fit (before the opportunity's own base) and direction for packed category counts."""
    give_fit = _fit(both % _LEARN, give_weight)
    learn_fit = _fit(both // _LEARN, learn_weight)
    value = max(give_fit, learn_fit) + 0.25 * min(give_fit, learn_fit)
    return value, "give" if give_fit >= learn_fit else "learn"


def _by_category(opportunities: Iterable[OpenOpportunity]) -> dict[str, list[OpenOpportunity]]:
    """Category -> the opportunities wanting it."""
    index: dict[str, list[OpenOpportunity]] = {}
    for opp in opportunities:
        for category in opp.categories:
            index.setdefault(category, []).append(opp)
    return index


def rank(
    member: MemberFacts,
    opportunities: Iterable[OpenOpportunity],
    today: date,
    load: dict[int, int] | None = None,
) -> list[Pick]:
    """Every fitting opportunity, best first; ties go to the one asked least (rotation)."""
    return Catalogue(opportunities, today).rank(member, load)
