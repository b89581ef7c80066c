"""The planning sweep: who is nudged, about what, when, and how often (real database)."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.nudges.planner import Planner
from bot.nudges.schedule import Timing, is_quiet
from storage.db import make_engine, make_sessionmaker
from storage.models_nudges import NudgeOutbox, NudgePrefs, Opportunity
from tests.conftest import Database
from tests.test_nudges_support import (
    WINTER,
    add_member,
    add_opportunity,
    nudge_runtime,
    outbox,
    planner_for,
)

COOK = [("cooking_meals", "cooking")]
DUE = {"next_due_at": WINTER - timedelta(minutes=5)}


async def test_only_consenting_telegram_members_are_planned(
    database: Database, tmp_path: Path
) -> None:
    """No consent, or no Telegram chat: never planned, never given preferences."""
    async with nudge_runtime(database, tmp_path) as rt:
        async with rt.sessionmaker.begin() as session:
            yes = await add_member(session, 101, skills=COOK)
            await add_member(session, 102, name="Lee", consent=None, skills=COOK)
            await add_member(session, 103, name="Max", consent=False, skills=COOK)
            await add_member(session, None, name="Kim", skills=COOK)
            await add_opportunity(session, "Cook lunch", "cooking")
        report = await planner_for(rt).sweep(WINTER)
        assert report.new_members == 1
        async with rt.sessionmaker() as session:
            prefs = (await session.execute(select(NudgePrefs))).scalars().all()
        assert [p.member_id for p in prefs] == [yes.id]
        first = prefs[0].next_due_at
        assert first is not None and first.replace(tzinfo=UTC) >= WINTER + timedelta(days=1)
        async with rt.sessionmaker.begin() as session:
            await session.execute(update(NudgePrefs).values(**DUE))
        assert (await planner_for(rt).sweep(WINTER)).planned == 1
        assert [r.member_id for r in await outbox(rt.sessionmaker)] == [yes.id]


async def test_the_best_fit_is_offered(database: Database, tmp_path: Path) -> None:
    """Confirmed skills and learning wishes decide; other networks' offers never appear."""
    async with nudge_runtime(database, tmp_path) as rt:
        async with rt.sessionmaker.begin() as session:
            cook = await add_member(session, 201, skills=COOK, prefs=DUE)
            learner = await add_member(
                session, 202, name="Ana", wishes=["playing_music"], prefs=DUE
            )
            await add_member(session, 203, name="Bo", prefs=DUE)  # nothing confirmed yet
            garden = await add_opportunity(session, "Allotment", "gardening")
            cooking = await add_opportunity(session, "Cook lunch", "cooking")
            music = await add_opportunity(session, "Music group", "music")
            await add_opportunity(session, "Cooking far away", "cooking", network="elsewhere")
        report = await planner_for(rt).sweep(WINTER)
        assert (report.due, report.planned, report.no_fit) == (3, 2, 1)
        rows = {r.member_id: r for r in await outbox(rt.sessionmaker)}
        assert rows[cook.id].opportunity_id == cooking and rows[cook.id].direction == "give"
        assert rows[learner.id].opportunity_id == music and rows[learner.id].direction == "learn"
        assert garden not in {r.opportunity_id for r in rows.values()}


async def test_weekly_cap(database: Database, tmp_path: Path) -> None:
    """With 2 nudges in the last 7 days, a third waits until the week has passed."""
    async with nudge_runtime(database, tmp_path) as rt:
        async with rt.sessionmaker.begin() as session:
            member = await add_member(session, 301, skills=COOK, prefs={**DUE, "days_mask": 127})
            opp = await add_opportunity(session, "Cook lunch", "cooking")
            for days in (2, 5):
                session.add(
                    NudgeOutbox(
                        member_id=member.id,
                        chat_id=301,
                        kind="opportunity",
                        opportunity_id=opp,
                        due_at=WINTER - timedelta(days=days),
                        status="sent",
                    )
                )
            await add_opportunity(session, "Soup kitchen", "cooking")
        report = await planner_for(rt).sweep(WINTER)
        assert (report.capped, report.planned) == (1, 0)
        async with rt.sessionmaker() as session:
            prefs = await session.get(NudgePrefs, member.id)
        assert prefs is not None and prefs.next_due_at is not None
        later = prefs.next_due_at.replace(tzinfo=UTC)
        assert (await planner_for(rt).sweep(later)).capped == 1  # 6 days on: still 2 this week
        async with rt.sessionmaker.begin() as session:
            await session.execute(update(NudgePrefs).values(next_due_at=WINTER + timedelta(days=3)))
        assert (await planner_for(rt).sweep(WINTER + timedelta(days=3))).planned == 1


async def test_a_missed_slot_is_never_sent_in_quiet_hours(
    database: Database, tmp_path: Path
) -> None:
    """Planned late at night (the bot was down at 11:00), the nudge waits for 11:00 tomorrow."""
    night = WINTER.replace(hour=22)
    async with nudge_runtime(database, tmp_path) as rt:
        async with rt.sessionmaker.begin() as session:
            await add_member(
                session, 401, skills=COOK, prefs={"next_due_at": WINTER.replace(hour=11)}
            )
            await add_opportunity(session, "Cook lunch", "cooking")
        assert (await planner_for(rt).sweep(night)).planned == 1
        (row,) = await outbox(rt.sessionmaker)
        due = row.due_at.replace(tzinfo=UTC)
        assert due == WINTER.replace(hour=11) + timedelta(days=1)
        assert not is_quiet(due, Timing())
        assert row.send_before is not None
        assert row.send_before.replace(tzinfo=UTC) == WINTER.replace(hour=20) + timedelta(days=1)


async def test_few_places_are_offered_in_turn(database: Database, tmp_path: Path) -> None:
    """1 place: at most 3 members are asked at once, those asked least recently first."""
    async with nudge_runtime(database, tmp_path) as rt:
        async with rt.sessionmaker.begin() as session:
            recent = []
            for n in range(2):
                m = await add_member(
                    session,
                    500 + n,
                    name=f"R{n}",
                    skills=COOK,
                    prefs={**DUE, "last_asked_at": WINTER - timedelta(days=7)},
                )
                recent.append(m.id)
            never = [
                (await add_member(session, 510 + n, name=f"N{n}", skills=COOK, prefs=DUE)).id
                for n in range(3)
            ]
            await add_opportunity(session, "Cook lunch", "cooking", places=1)
        report = await planner_for(rt).sweep(WINTER)
        assert report.planned == 3 and report.no_fit == 2
        asked = {r.member_id for r in await outbox(rt.sessionmaker)}
        assert asked == set(never)


async def test_closed_and_past_opportunities_are_not_offered(
    database: Database, tmp_path: Path
) -> None:
    """A closing date in the past closes the opportunity; a closed one is never offered."""
    async with nudge_runtime(database, tmp_path) as rt:
        async with rt.sessionmaker.begin() as session:
            await add_member(session, 601, skills=COOK, prefs=DUE)
            past = await add_opportunity(
                session, "Old fair", "cooking", closes_on=WINTER.date() - timedelta(days=1)
            )
            await add_opportunity(session, "Closed fair", "cooking", status="closed")
        report = await planner_for(rt).sweep(WINTER)
        assert (report.closed, report.planned) == (1, 0)
        async with rt.sessionmaker() as session:
            assert (await session.get(Opportunity, past)).status == "closed"  # type: ignore[union-attr]


async def test_members_who_turned_nudges_off_are_not_planned(
    database: Database, tmp_path: Path
) -> None:
    """Nudges off: due or not, nothing is planned."""
    async with nudge_runtime(database, tmp_path) as rt:
        async with rt.sessionmaker.begin() as session:
            await add_member(session, 701, skills=COOK, prefs={**DUE, "enabled": False})
            await add_opportunity(session, "Cook lunch", "cooking")
        assert (await planner_for(rt).sweep(WINTER)).due == 0
        assert await outbox(rt.sessionmaker) == []


async def test_two_planners_at_once_plan_each_member_once(
    database: Database, tmp_path: Path
) -> None:
    """Two bot processes planning at the same moment never give a member two nudges."""
    if database.kind != "postgres":
        pytest.skip("two processes plan at once only on PostgreSQL (SQLite has one writer)")
    async with nudge_runtime(database, tmp_path) as rt:
        async with rt.sessionmaker.begin() as session:
            for n in range(300):
                await add_member(session, 8000 + n, name=f"P{n}", skills=COOK, prefs=DUE)
            await add_opportunity(session, "Cook lunch", "cooking")
        other = make_engine(database.url, schema=database.schema)
        try:
            a = planner_for(rt)
            a.batch = 25
            b = Planner(make_sessionmaker(other), a.skill_categories, batch=25)
            reports = await asyncio.gather(a.sweep(WINTER), b.sweep(WINTER))
        finally:
            await other.dispose()
        rows = await outbox(rt.sessionmaker)
        assert sum(r.planned for r in reports) == 300 == len(rows)
        assert len({r.member_id for r in rows}) == 300
