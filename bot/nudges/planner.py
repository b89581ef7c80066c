"""The planning sweep: turn members' due slots into outbox rows, fairly and gently.

One sweep: give consenting Telegram members default preferences, close
opportunities past their closing date, then, for members whose slot is due
(within ``horizon``), pick the best-fitting open opportunity and queue one nudge
at that slot. Members least recently asked go first, so when an opportunity's
places run short the same people are not asked again and again.

Cost: set-based SQL (one statement per group of members sharing an offer and a
time) and ranking over an index of opportunities by category. One sweep plans
at most ``per_sweep`` members (default 3,000: more than the 1,800 a minute
Telegram lets the sender deliver); with a horizon of an hour, the members due
at 11:00 are all in the outbox before 11:00 even when 10,000 share that slot.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import DateTime, Table, and_, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.nudges.prefs import NudgeDefaults, aware, new_prefs
from bot.nudges.ranking import Catalogue, MemberFacts, OpenOpportunity
from bot.nudges.schedule import Timing, is_quiet, next_slot, quiet_begins, zone
from bot.nudges.sql import dialect, insert_ignoring_duplicates, one_of
from storage.models import LearningWish, Member, MemberSkill, utcnow
from storage.models_nudges import NudgeOutbox, NudgePrefs, NudgeResponse, Opportunity

log = logging.getLogger(__name__)

PREFS = cast(Table, NudgePrefs.__table__)
OUTBOX = cast(Table, NudgeOutbox.__table__)
_OUTBOX_COLUMNS = [
    "member_id",
    "chat_id",
    "kind",
    "direction",
    "opportunity_id",
    "due_at",
    "send_before",
    "status",
    "attempts",
    "created_at",
]

#: Outbox states that count toward the weekly cap and mean "already asked".
COUNTED = ("pending", "claimed", "sending", "sent", "unknown")
CAP_WINDOW = timedelta(days=7)
SEEN_WINDOW = timedelta(days=180)
OUTSTANDING_WINDOW = timedelta(days=14)
#: An opportunity with N places is offered to at most this many times N members at once.
ASKS_PER_PLACE = 3


@dataclass
class PlanReport:
    """What one planning sweep did."""

    new_members: int = 0
    due: int = 0
    planned: int = 0
    capped: int = 0
    no_fit: int = 0
    closed: int = 0
    by_opportunity: dict[int, int] = field(default_factory=dict)


@dataclass
class _Quota:
    """How many members an opportunity may still be offered to in this sweep."""

    places: int | None
    taken: int = 0  # yes answers
    outstanding: int = 0  # asked, not answered yet

    def open(self) -> bool:
        """True while there is room to ask one more member."""
        if self.places is None:
            return True
        return self.taken < self.places and self.taken + self.outstanding < (
            ASKS_PER_PLACE * self.places
        )


class Planner:
    """Plans nudges for due members (one instance per process)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        skill_categories: Mapping[str, str],
        defaults: NudgeDefaults | None = None,
        *,
        batch: int = 3000,
        per_sweep: int | None = 3000,
        horizon: timedelta = timedelta(hours=1),
    ) -> None:
        """``skill_categories`` maps taxonomy skill ids to category ids (for wishes).

        ``per_sweep=None`` plans every due member in one sweep.
        """
        self.sessionmaker = sessionmaker
        self.skill_categories = dict(skill_categories)
        self.defaults = defaults or NudgeDefaults()
        self.batch = batch
        self.per_sweep = per_sweep
        self.horizon = horizon

    async def sweep(self, now: datetime | None = None) -> PlanReport:
        """One planning sweep (the APScheduler job)."""
        now = now or utcnow()
        report = PlanReport()
        async with self.sessionmaker.begin() as session:
            report.new_members = await self._add_missing_prefs(session, now)
            report.closed = await close_expired(session, _today(now, self.defaults))
        async with self.sessionmaker() as session:
            opportunities, quotas = await self._open_opportunities(session, now)
        loads = {i: q.taken + q.outstanding for i, q in quotas.items()}
        while self.per_sweep is None or report.due < self.per_sweep:
            limit = self.batch
            if self.per_sweep is not None:
                limit = min(limit, self.per_sweep - report.due)
            async with self.sessionmaker.begin() as session:
                more = await self._plan_batch(
                    session, now, opportunities, quotas, loads, report, limit
                )
            if not more:  # each batch moves its members past the horizon, so this ends
                break
        if report.planned or report.new_members:
            log.info(
                "nudge plan: %d due, %d planned, %d at their weekly limit, %d with nothing fitting",
                report.due,
                report.planned,
                report.capped,
                report.no_fit,
            )
        return report

    # ------------------------------------------------------------------ steps

    async def _add_missing_prefs(self, session: AsyncSession, now: datetime) -> int:
        """Default preferences for consenting Telegram members who have none yet."""
        added = 0
        while True:
            ids = (
                (
                    await session.execute(
                        select(Member.id)
                        .outerjoin(NudgePrefs, NudgePrefs.member_id == Member.id)
                        .where(
                            NudgePrefs.member_id.is_(None),
                            Member.consent.is_(True),
                            Member.telegram_id.is_not(None),
                        )
                        .limit(5000)
                    )
                )
                .scalars()
                .all()
            )
            if not ids:
                return added
            # A member choosing settings at this moment may create their row first.
            await session.execute(
                insert_ignoring_duplicates(PREFS, dialect(session)),
                [new_prefs(i, self.defaults, now) for i in ids],
            )
            added += len(ids)

    async def _open_opportunities(
        self, session: AsyncSession, now: datetime
    ) -> tuple[list[OpenOpportunity], dict[int, _Quota]]:
        """Open opportunities and how full each one is."""
        rows = (
            (await session.execute(select(Opportunity).where(Opportunity.status == "open")))
            .scalars()
            .all()
        )
        opportunities = [
            OpenOpportunity(
                id=o.id,
                categories=frozenset(o.categories or ()),
                kind=o.kind,
                network=o.network,
                closes_on=o.closes_on,
                places=o.places,
            )
            for o in rows
        ]
        quotas = {o.id: _Quota(o.places) for o in opportunities}
        if not quotas:
            return opportunities, quotas
        yes = await session.execute(
            select(NudgeResponse.opportunity_id, func.count())
            .where(NudgeResponse.answer == "yes", NudgeResponse.opportunity_id.in_(quotas))
            .group_by(NudgeResponse.opportunity_id)
        )
        for opp_id, count in yes.all():
            quotas[int(opp_id or 0)].taken = int(count)
        outstanding = await session.execute(
            select(NudgeOutbox.opportunity_id, func.count())
            .outerjoin(NudgeResponse, NudgeResponse.nudge_id == NudgeOutbox.id)
            .where(
                NudgeOutbox.opportunity_id.in_(quotas),
                NudgeOutbox.status.in_(COUNTED),
                NudgeOutbox.due_at >= now - OUTSTANDING_WINDOW,
                NudgeResponse.id.is_(None),
            )
            .group_by(NudgeOutbox.opportunity_id)
        )
        for opp_id, count in outstanding.all():
            quotas[int(opp_id or 0)].outstanding = int(count)
        return opportunities, quotas

    async def _plan_batch(
        self,
        session: AsyncSession,
        now: datetime,
        opportunities: list[OpenOpportunity],
        quotas: dict[int, _Quota],
        loads: dict[int, int],
        report: PlanReport,
        limit: int,
    ) -> bool:
        """Plan up to ``limit`` due members; False when no member is due any more."""
        due = await self._due_members(session, now, limit)
        if not due:
            return False
        report.due += len(due)
        db = dialect(session)
        ids = [r[0] for r in due]
        facts = await self._facts(session, due, now)
        counts = await self._recent_counts(session, ids, now)
        catalogue = Catalogue(opportunities, _today(now, self.defaults))
        #: (opportunity, direction, due_at, send_before) -> members to nudge
        nudges: dict[tuple[int, str, datetime, datetime], list[int]] = defaultdict(list)
        #: next slot -> members asked now / members moved on without a nudge
        asked: dict[datetime, list[int]] = defaultdict(list)
        moved: dict[datetime, list[int]] = defaultdict(list)
        times: dict[tuple[Any, ...], _Times] = {}
        for member_id, zone_name, mask, minutes, q_start, q_end, slot, wait, cap, *_ in due:
            when_key = (zone_name, mask, minutes, q_start, q_end, slot, wait)
            when = times.get(when_key)
            if when is None:
                when = times[when_key] = _times(*when_key, now=now, horizon=self.horizon)
            if counts.get(member_id, 0) >= cap:
                report.capped += 1
                moved[when.without].append(member_id)
                continue
            pick = catalogue.best(facts[member_id], loads, lambda i: quotas[i].open())
            if pick is None:
                report.no_fit += 1
                moved[when.without].append(member_id)
                continue
            key = (pick.opportunity_id, pick.direction, when.due_at, when.send_before)
            nudges[key].append(member_id)
            quotas[pick.opportunity_id].outstanding += 1
            loads[pick.opportunity_id] = loads.get(pick.opportunity_id, 0) + 1
            report.by_opportunity[pick.opportunity_id] = (
                report.by_opportunity.get(pick.opportunity_id, 0) + 1
            )
            asked[when.after_nudge].append(member_id)
        for (opp_id, direction, due_at, send_before), members in nudges.items():
            await session.execute(
                insert(OUTBOX).from_select(
                    _OUTBOX_COLUMNS,
                    select(
                        Member.id,
                        Member.telegram_id,
                        literal("opportunity"),
                        literal(direction),
                        literal(opp_id),
                        literal(due_at, DateTime(timezone=True)),
                        literal(send_before, DateTime(timezone=True)),
                        literal("pending"),
                        literal(0),
                        literal(now, DateTime(timezone=True)),
                    ).where(one_of(Member.id, members, db)),
                )
            )
            report.planned += len(members)
        for following, members in asked.items():
            await session.execute(
                update(PREFS)
                .where(one_of(PREFS.c.member_id, members, db))
                .values(
                    next_due_at=following,
                    last_asked_at=now,
                    updated_at=now,
                    asked_count=PREFS.c.asked_count + 1,
                )
            )
        for following, members in moved.items():
            await session.execute(
                update(PREFS)
                .where(one_of(PREFS.c.member_id, members, db))
                .values(next_due_at=following)
            )
        return True

    async def _due_members(
        self, session: AsyncSession, now: datetime, limit: int
    ) -> list[tuple[Any, ...]]:
        """Members whose slot is due: consenting, on Telegram, nudges on, not blocked."""
        stmt = (
            select(  # the order matters: rows are unpacked by position
                NudgePrefs.member_id,
                NudgePrefs.timezone,
                NudgePrefs.days_mask,
                NudgePrefs.time_minutes,
                NudgePrefs.quiet_start,
                NudgePrefs.quiet_end,
                NudgePrefs.next_due_at,
                NudgePrefs.backoff_until,
                NudgePrefs.weekly_cap,
                NudgePrefs.kind_declines,
                NudgePrefs.gave,
                NudgePrefs.received,
                Member.network,
                Member.telegram_id,
            )
            .join(Member, Member.id == NudgePrefs.member_id)
            .where(
                NudgePrefs.enabled.is_(True),
                NudgePrefs.next_due_at <= now + self.horizon,
                Member.consent.is_(True),
                Member.telegram_id.is_not(None),
                or_(
                    NudgePrefs.blocked_at.is_(None),
                    Member.last_active_at > NudgePrefs.blocked_at,
                ),
            )
            .order_by(NudgePrefs.last_asked_at.asc().nulls_first(), NudgePrefs.member_id)
            .limit(limit)
        )
        if dialect(session) == "postgresql":
            # Two bot processes planning at once take different members.
            stmt = stmt.with_for_update(skip_locked=True, of=NudgePrefs)
        return cast(list[tuple[Any, ...]], (await session.execute(stmt)).all())

    async def _facts(
        self, session: AsyncSession, due: list[tuple[Any, ...]], now: datetime
    ) -> dict[int, MemberFacts]:
        """Skills, wishes and earlier answers of the due members."""
        db = dialect(session)
        ids = [r[0] for r in due]
        skills: dict[int, set[str]] = defaultdict(set)
        wishes: dict[int, set[str]] = defaultdict(set)
        seen: dict[int, set[int]] = defaultdict(set)
        later: dict[int, set[int]] = defaultdict(set)
        rows = await session.execute(
            select(MemberSkill.member_id, MemberSkill.category)
            .distinct()
            .where(one_of(MemberSkill.member_id, ids, db), MemberSkill.status == "confirmed")
        )
        for member_id, category in rows.all():
            skills[member_id].add(category)
        wish_rows = await session.execute(
            select(LearningWish.member_id, LearningWish.skill_id).where(
                one_of(LearningWish.member_id, ids, db), LearningWish.skill_id.is_not(None)
            )
        )
        for member_id, skill_id in wish_rows.all():
            wish_category = self.skill_categories.get(skill_id or "")
            if wish_category:
                wishes[member_id].add(wish_category)
        answers = await session.execute(
            select(NudgeResponse.member_id, NudgeResponse.opportunity_id, NudgeResponse.answer)
            .where(
                one_of(NudgeResponse.member_id, ids, db), NudgeResponse.opportunity_id.is_not(None)
            )
            .order_by(NudgeResponse.id)
        )
        for member_id, opp_id, answer in answers.all():
            if opp_id is None:
                continue
            if answer == "not_now":
                later[member_id].add(opp_id)
            else:
                seen[member_id].add(opp_id)
                later[member_id].discard(opp_id)
        asked = await session.execute(
            select(NudgeOutbox.member_id, NudgeOutbox.opportunity_id)
            .outerjoin(NudgeResponse, NudgeResponse.nudge_id == NudgeOutbox.id)
            .where(
                one_of(NudgeOutbox.member_id, ids, db),
                NudgeOutbox.opportunity_id.is_not(None),
                NudgeOutbox.status.in_(COUNTED),
                NudgeOutbox.due_at >= now - SEEN_WINDOW,
                NudgeResponse.id.is_(None),
            )
        )
        for member_id, opp_id in asked.all():
            if opp_id is not None:
                seen[member_id].add(opp_id)
        empty: set[Any] = set()
        facts = {}
        for member_id, *_, declines, gave, received, network, _ in due:  # see _due_members
            member_seen = seen.get(member_id, empty)
            member_later = later.get(member_id, empty)
            facts[member_id] = MemberFacts(
                member_id,
                network,
                skills.get(member_id, empty),
                wishes.get(member_id, empty),
                declines or {},
                gave,
                received,
                member_seen,
                member_later - member_seen if member_later else empty,
            )
        return facts

    async def _recent_counts(
        self, session: AsyncSession, ids: list[int], now: datetime
    ) -> dict[int, int]:
        """Nudges each member got (or will get) in the last 7 days, for the weekly cap."""
        db = dialect(session)
        rows = await session.execute(
            select(NudgeOutbox.member_id, func.count())
            .where(
                one_of(NudgeOutbox.member_id, ids, db),
                NudgeOutbox.status.in_(COUNTED),
                NudgeOutbox.due_at > now - CAP_WINDOW,
            )
            .group_by(NudgeOutbox.member_id)
        )
        return {int(m): int(c) for m, c in rows.all()}


@dataclass(frozen=True)
class _Times:
    """When a due member's nudge goes out, until when, and their next slot after it."""

    due_at: datetime
    send_before: datetime
    after_nudge: datetime
    without: datetime


def _times(
    timezone: str,
    days_mask: int,
    time_minutes: int,
    quiet_start: int,
    quiet_end: int,
    next_due_at: datetime | None,
    backoff_until: datetime | None,
    *,
    now: datetime,
    horizon: timedelta,
) -> _Times:
    """The times for a due member (many members share them, so callers keep them)."""
    timing = Timing(timezone, days_mask, time_minutes, quiet_start, quiet_end)
    slot = aware(next_due_at) or now
    wait = aware(backoff_until) or now
    due_at = slot if slot > now - timedelta(minutes=1) else now
    if now >= quiet_begins(slot, timing) or is_quiet(due_at, timing):
        due_at = next_slot(now, timing, any_day=True)  # the window passed: next good time
    return _Times(
        due_at=due_at,
        send_before=quiet_begins(due_at, timing),
        # Either way the next slot lies beyond this sweep's horizon (seen once a sweep).
        after_nudge=next_slot(max(due_at, wait, now + horizon), timing),
        without=next_slot(max(slot, now + horizon, wait), timing),
    )


async def close_expired(session: AsyncSession, today: date) -> int:
    """Close open opportunities whose closing date has passed; returns how many."""
    result = await session.execute(
        update(Opportunity)
        .where(
            and_(
                Opportunity.status == "open",
                Opportunity.closes_on.is_not(None),
                Opportunity.closes_on < today,
            )
        )
        .values(status="closed", closed_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _today(now: datetime, defaults: NudgeDefaults) -> date:
    """Today's date where the service runs (for closing dates)."""
    return now.astimezone(zone(defaults.timezone)).date()
