"""The planning sweep: turn members' due slots into outbox rows, fairly and gently.

One sweep: give consenting Telegram members default preferences, close
opportunities past their closing date, then, for members whose slot is due
(within ``horizon``), pick the best-fitting open opportunity and queue one nudge
at that slot. Members least recently asked go first, so when an opportunity's
places run short the same people are not asked again and again.

Cost: a batch of members costs one query per table (plain tuples through
SQLAlchemy Core, the member ids as one parameter, statements built once), one
``INSERT ... SELECT`` per slot for the new nudges and one ``UPDATE`` per new
slot for the members; times and JSON are decoded once per distinct value and
ranking scores from a table (see docs/nudges.md). One sweep plans at most
``per_sweep`` members (``SKILLSPARK_NUDGE_PLAN_PER_SWEEP``, default 3,000: more
than the 1,800 a minute Telegram lets the sender deliver); with a horizon of an
hour, the members due at 11:00 are all in the outbox before 11:00 even when
10,000 share that slot.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    column,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from bot.nudges.prefs import NudgeDefaults, aware, new_prefs
from bot.nudges.ranking import Catalogue, MemberFacts, OpenOpportunity
from bot.nudges.schedule import Timing, is_quiet, next_slot, quiet_begins, zone
from bot.nudges.sql import (
    Decoded,
    dialect,
    id_list,
    id_set,
    ids_param,
    in_ids,
    insert_ignoring_duplicates,
    raw,
    raw_json,
    unindexed,
)
from storage.models import LearningWish, Member, MemberSkill, utcnow
from storage.models_nudges import NudgeOutbox, NudgePrefs, NudgeResponse, Opportunity

log = logging.getLogger(__name__)

PREFS = cast(Table, NudgePrefs.__table__)
OUTBOX = cast(Table, NudgeOutbox.__table__)
RESPONSES = cast(Table, NudgeResponse.__table__)
MEMBERS = cast(Table, Member.__table__)
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
        self._statements: dict[str, _Statements] = {}

    async def sweep(self, now: datetime | None = None) -> PlanReport:
        """One planning sweep (the APScheduler job)."""
        now = now or utcnow()
        report = PlanReport()
        async with self.sessionmaker.begin() as session:
            report.new_members = await self._add_missing_prefs(session, now)
            report.closed = await close_expired(session, _today(now, self.defaults))
        async with self.sessionmaker() as session:
            opportunities, quotas = await self._open_opportunities(session, now)
        catalogue = Catalogue(opportunities, _today(now, self.defaults))
        loads = {i: q.taken + q.outstanding for i, q in quotas.items()}
        decoded = Decoded()
        while self.per_sweep is None or report.due < self.per_sweep:
            limit = self.batch
            if self.per_sweep is not None:
                limit = min(limit, self.per_sweep - report.due)
            async with self.sessionmaker.begin() as session:
                conn = await session.connection()
                sql = self._sql(dialect(session))
                batch = _Batch(sql, conn, now, decoded, report)
                more = await self._plan_batch(batch, catalogue, quotas, loads, limit)
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

    def _sql(self, db: str) -> _Statements:
        """The sweep's statements for this database (built once)."""
        statements = self._statements.get(db)
        if statements is None:
            statements = self._statements[db] = _Statements(db, self.horizon)
        return statements

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
        outstanding = await session.execute(  # asked, not answered yet (see NudgeOutbox.answer)
            select(NudgeOutbox.opportunity_id, func.count())
            .where(
                NudgeOutbox.opportunity_id.in_(quotas),
                NudgeOutbox.due_at >= now - OUTSTANDING_WINDOW,
                unindexed(NudgeOutbox.status, dialect(session)).in_(COUNTED),
                NudgeOutbox.answer.is_(None),
            )
            .group_by(NudgeOutbox.opportunity_id)
        )
        for opp_id, count in outstanding.all():
            quotas[int(opp_id or 0)].outstanding = int(count)
        return opportunities, quotas

    async def _plan_batch(
        self,
        batch: _Batch,
        catalogue: Catalogue,
        quotas: dict[int, _Quota],
        loads: dict[int, int],
        limit: int,
    ) -> bool:
        """Plan up to ``limit`` due members; False when no member is due any more."""
        now, report, decoded = batch.now, batch.report, batch.decoded
        due = await batch.rows(batch.sql.due, until=now + self.horizon, limit=limit)
        if not due:
            return False
        report.due += len(due)
        ids = [r[0] for r in due]
        counts = {
            int(m): int(c)
            for m, c in await batch.rows(batch.sql.counts, ids=ids, cap_since=now - CAP_WINDOW)
        }
        facts = await self._facts(batch, ids, catalogue)
        #: (due_at, send_before) -> (member, opportunity, direction) of each nudge
        nudges: dict[tuple[datetime, datetime], list[tuple[int, int, str]]] = defaultdict(list)
        #: next slot -> members asked now / members moved on without a nudge
        asked: dict[datetime, list[int]] = defaultdict(list)
        moved: dict[datetime, list[int]] = defaultdict(list)
        times: dict[tuple[Any, ...], _Times] = {}
        by_opportunity = report.by_opportunity

        def has_room(opportunity_id: int) -> bool:
            return quotas[opportunity_id].open()

        for row in due:  # the columns of _Statements.due, in order
            member_id, zone_name, mask, minutes, q_start, q_end, slot, wait, cap = row[:9]
            when_key = (zone_name, mask, minutes, q_start, q_end, slot, wait)
            when = times.get(when_key)
            if when is None:
                when = times[when_key] = _times(
                    zone_name,
                    mask,
                    minutes,
                    q_start,
                    q_end,
                    decoded.time(slot),
                    decoded.time(wait),
                    now=now,
                    horizon=self.horizon,
                )
            if counts.get(member_id, 0) >= cap:
                report.capped += 1
                moved[when.without].append(member_id)
                continue
            member = facts.member(row, decoded)
            pick = catalogue.best(member, loads, has_room)
            if pick is None:
                report.no_fit += 1
                moved[when.without].append(member_id)
                continue
            opp_id = pick.opportunity_id
            nudges[(when.due_at, when.send_before)].append((member_id, opp_id, pick.direction))
            quotas[opp_id].outstanding += 1
            loads[opp_id] = loads.get(opp_id, 0) + 1
            by_opportunity[opp_id] = by_opportunity.get(opp_id, 0) + 1
            asked[when.after_nudge].append(member_id)
        for (due_at, send_before), rows in nudges.items():
            await batch.run(
                batch.sql.add_nudges,
                rows=batch.sql.nudge_rows(rows),
                p_due=due_at,
                p_before=send_before,
            )
            report.planned += len(rows)
        for following, members in asked.items():
            await batch.run(batch.sql.asked, ids=members, p_next=following)
        for following, members in moved.items():
            await batch.run(batch.sql.moved, ids=members, p_next=following)
        return True

    async def _facts(self, batch: _Batch, ids: list[int], catalogue: Catalogue) -> _Facts:
        """Skills, wishes and earlier answers of the due members (open opportunities only)."""
        facts = _Facts()
        skills, wishes, seen, later = facts.skills, facts.wishes, facts.seen, facts.later
        for member_id, category in await batch.rows(batch.sql.skills, ids=ids):
            skills[member_id].add(category)
        categories = self.skill_categories
        for member_id, skill_id in await batch.rows(batch.sql.wishes, ids=ids):
            wish_category = categories.get(skill_id)
            if wish_category:
                wishes[member_id].add(wish_category)
        open_ids = catalogue.ids
        if not open_ids:
            return facts
        # Only open opportunities can be offered, so only what was said about them matters.
        offered = frozenset(open_ids)
        for member_id, answered, not_now in await batch.rows(batch.sql.answers, ids=ids):
            if answered:
                seen[member_id].update(id_set(answered) & offered)
            if not_now:
                later[member_id].update(id_set(not_now) & offered)
        for member_id, asked in await batch.rows(
            batch.sql.asked_before, ids=ids, since=batch.now - SEEN_WINDOW
        ):
            if asked:
                seen[member_id].update(id_set(asked) & offered)
        return facts


class _Statements:
    """The planning statements for one database, built once (only parameters change).

    Rows come back as plain tuples (Core, not ORM objects), and times and JSON
    raw (:func:`raw`), decoded once per distinct value.
    """

    def __init__(self, db: str, horizon: timedelta) -> None:
        """Build the statements for dialect ``db``."""
        self.db = db
        prefs, members = PREFS, MEMBERS
        due = (
            select(  # the order matters: rows are unpacked by position (_Facts.member)
                prefs.c.member_id,
                prefs.c.timezone,
                prefs.c.days_mask,
                prefs.c.time_minutes,
                prefs.c.quiet_start,
                prefs.c.quiet_end,
                raw(prefs.c.next_due_at),
                raw(prefs.c.backoff_until),
                prefs.c.weekly_cap,
                raw_json(prefs.c.kind_declines, db),
                prefs.c.gave,
                prefs.c.received,
                members.c.network,
            )
            .join(members, members.c.id == prefs.c.member_id)
            .where(
                prefs.c.enabled.is_(True),
                prefs.c.next_due_at <= bindparam("until", type_=DateTime(timezone=True)),
                members.c.consent.is_(True),
                members.c.telegram_id.is_not(None),
                or_(
                    prefs.c.blocked_at.is_(None),
                    members.c.last_active_at > prefs.c.blocked_at,
                ),
            )
            .order_by(prefs.c.last_asked_at.asc().nulls_first(), prefs.c.member_id)
            .limit(bindparam("limit", type_=Integer))
        )
        if db == "postgresql":
            # Two bot processes planning at once take different members.
            due = due.with_for_update(skip_locked=True, of=prefs)
        self.due = due
        outbox, responses = OUTBOX, RESPONSES
        self.counts = (
            select(outbox.c.member_id, func.count())
            .where(
                in_ids(outbox.c.member_id, "ids", db),
                unindexed(outbox.c.status, db).in_(COUNTED),
                outbox.c.due_at > bindparam("cap_since", type_=DateTime(timezone=True)),
            )
            .group_by(outbox.c.member_id)
        )
        skills = cast(Table, MemberSkill.__table__)
        self.skills = select(skills.c.member_id, skills.c.category).where(
            in_ids(skills.c.member_id, "ids", db), skills.c.status == "confirmed"
        )
        wishes = cast(Table, LearningWish.__table__)
        self.wishes = select(wishes.c.member_id, wishes.c.skill_id).where(
            in_ids(wishes.c.member_id, "ids", db), wishes.c.skill_id.is_not(None)
        )
        # A member's history comes back as one row per member with the opportunity ids
        # as text ("3,17,40"): tens of thousands of rows fewer for a sweep. The reads
        # name only the member (and time) in an indexed way: a condition on the
        # opportunity or the state could lead SQLite to walk an index over
        # everyone's history instead of the member's.
        answered = responses.c.answer
        self.answers = (  # ever answered: "no"/"yes" (seen), "not now" (asked later)
            select(
                responses.c.member_id,
                id_list(case((answered != "not_now", responses.c.opportunity_id)), db),
                id_list(case((answered == "not_now", responses.c.opportunity_id)), db),
            )
            .where(in_ids(responses.c.member_id, "ids", db))
            .group_by(responses.c.member_id)
        )
        self.asked_before = (  # asked lately, not answered yet
            select(outbox.c.member_id, id_list(outbox.c.opportunity_id, db))
            .where(
                in_ids(outbox.c.member_id, "ids", db),
                outbox.c.due_at >= bindparam("since", type_=DateTime(timezone=True)),
                outbox.c.answer.is_(None),
                unindexed(outbox.c.status, db).in_(COUNTED),
            )
            .group_by(outbox.c.member_id)
        )
        at = DateTime(timezone=True)
        self.add_nudges = insert(outbox).from_select(
            _OUTBOX_COLUMNS, self._nudge_source(db, bindparam("p_due", type_=at))
        )
        self.asked = (
            update(prefs)
            .where(in_ids(prefs.c.member_id, "ids", db))
            .values(
                next_due_at=bindparam("p_next", type_=at),
                last_asked_at=bindparam("p_now", type_=at),
                updated_at=bindparam("p_now", type_=at),
                asked_count=prefs.c.asked_count + 1,
            )
        )
        self.moved = (
            update(prefs)
            .where(in_ids(prefs.c.member_id, "ids", db))
            .values(next_due_at=bindparam("p_next", type_=at))
        )

    @staticmethod
    def _nudge_source(db: str, due_at: Any) -> Any:
        """``SELECT`` of the outbox columns from one parameter holding every new nudge.

        Joined to ``members`` (by primary key): the chat is the member's current
        one, and a member forgotten meanwhile gets no row.
        """
        at = DateTime(timezone=True)
        member: Any
        opp: Any
        direction: Any
        if db == "postgresql":
            source = (
                func.unnest(
                    bindparam("members", type_=ARRAY(Integer)),
                    bindparam("opportunities", type_=ARRAY(Integer)),
                    bindparam("directions", type_=ARRAY(String)),
                )
                .table_valued(
                    column("member", Integer),
                    column("opp", Integer),
                    column("direction", String),
                )
                .render_derived()
            )
            member, opp, direction = source.c.member, source.c.opp, source.c.direction
        else:  # SQLite: a JSON list of [member, opportunity, direction]
            source = func.json_each(bindparam("rows", type_=String)).table_valued("value")
            member, opp, direction = (
                func.json_extract(source.c.value, f"$[{i}]") for i in (0, 1, 2)
            )
        return (
            select(
                MEMBERS.c.id,
                MEMBERS.c.telegram_id,
                literal("opportunity"),
                direction,
                opp,
                due_at,
                bindparam("p_before", type_=at),
                literal("pending"),
                literal(0),
                bindparam("p_now", type_=at),
            )
            .select_from(source)
            .join(MEMBERS, MEMBERS.c.id == member)
        )

    def nudge_rows(self, rows: list[tuple[int, int, str]]) -> dict[str, Any]:
        """The parameters of :attr:`add_nudges` for these (member, opportunity, direction)."""
        if self.db == "postgresql":
            return {
                "members": [r[0] for r in rows],
                "opportunities": [r[1] for r in rows],
                "directions": [r[2] for r in rows],
            }
        return {"rows": json.dumps(rows)}


@dataclass
class _Batch:
    """One batch's connection, clock and statements."""

    sql: _Statements
    conn: AsyncConnection
    now: datetime
    decoded: Decoded
    report: PlanReport

    async def rows(self, statement: Any, **params: Any) -> Sequence[Any]:
        """Run a select; ``ids``/``open_ids`` lists are passed the dialect's way."""
        return (await self.conn.execute(statement, self._params(params))).all()

    async def run(self, statement: Any, **params: Any) -> None:
        """Run an insert or update."""
        rows = params.pop("rows", None)
        values = self._params(params)
        if rows is not None:
            values.update(rows)
        await self.conn.execute(statement, values)

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Add the sweep's time and encode id lists."""
        db = self.sql.db
        for name in ("ids", "open_ids"):
            if name in params:
                params[name] = ids_param(params[name], db)
        params.setdefault("p_now", self.now)
        return params


class _Facts:
    """Skills, wishes and earlier answers of a batch of due members, by member."""

    def __init__(self) -> None:
        """Empty."""
        self.skills: dict[int, set[str]] = defaultdict(set)
        self.wishes: dict[int, set[str]] = defaultdict(set)
        self.seen: dict[int, set[int]] = defaultdict(set)
        self.later: dict[int, set[int]] = defaultdict(set)

    def member(self, row: Sequence[Any], decoded: Decoded) -> MemberFacts:
        """What ranking needs about the member of one ``_Statements.due`` row."""
        member_id = row[0]
        seen = self.seen.get(member_id, _EMPTY)
        later = self.later.get(member_id, _EMPTY)
        return MemberFacts(
            member_id,
            row[12],
            self.skills.get(member_id, _EMPTY),
            self.wishes.get(member_id, _EMPTY),
            decoded.json(row[9]) or _NO_DECLINES,
            row[10],
            row[11],
            seen,
            later - seen if later else _EMPTY,
        )


_EMPTY: frozenset[Any] = frozenset()
_NO_DECLINES: dict[str, Any] = {}


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
