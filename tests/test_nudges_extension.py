"""Members answering nudges and choosing when to hear from the bot (real engine, real database)."""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.app import Runtime
from bot.nudges.data import member_nudge_data
from bot.nudges.texts import parse_answer
from bot.types import HEAR_SHOWN, Incoming
from storage.models import Member, MemberSkill, StaffAlert
from storage.models_nudges import NudgeOutbox, NudgePrefs, NudgeResponse
from tests.chat import Chat
from tests.conftest import Database
from tests.test_nudges_support import (
    FakeClock,
    RecordingSender,
    add_member,
    add_opportunity,
    due_nudge,
    fast_service,
    nudge_runtime,
    outbox,
    planner_for,
)

TG = "5550001"


async def onboarded(rt: Runtime, clock: FakeClock) -> Chat:
    """A Telegram member who has said yes and confirmed a cooking skill."""
    chat = Chat(rt.engine, TG, channel="telegram")
    await chat.onboard()
    async with rt.sessionmaker.begin() as session:
        member = (await session.execute(select(Member))).scalar_one()
        session.add(
            MemberSkill(
                member_id=member.id,
                skill_id="cooking_meals",
                category="cooking",
                label="cooking meals",
                status="confirmed",
                source="question",
            )
        )
    return chat


async def to_next_slot(rt: Runtime, clock: FakeClock) -> None:
    """Plan (which gives new members their first slot), then move the clock to the slot."""
    await planner_for(rt).sweep(clock.now())
    async with rt.sessionmaker() as session:
        due = (await session.execute(select(NudgePrefs.next_due_at))).scalars().first()
    assert due is not None
    clock.at = due.replace(tzinfo=UTC) if due.tzinfo is None else due


async def nudged(rt: Runtime, clock: FakeClock) -> tuple[RecordingSender, list[str]]:
    """Plan and send at the member's next slot; return the sender and the buttons sent."""
    await to_next_slot(rt, clock)
    await planner_for(rt).sweep(clock.now())
    sender = RecordingSender()
    await fast_service(rt, sender, clock).drain()
    return sender, [b.choice for _, r in sender.sent for b in r.buttons]


async def test_yes_tells_more_and_staff_once(database: Database, tmp_path: Path) -> None:
    """ "Yes, tell me more" shows when, where and who; staff hear once; a second tap is kind."""
    clock = FakeClock()
    async with nudge_runtime(database, tmp_path, clock) as rt:
        chat = await onboarded(rt, clock)
        async with rt.sessionmaker.begin() as session:
            await add_opportunity(session, "Cook lunch at the café", "cooking")
        sender, choices = await nudged(rt, clock)
        assert len(sender.sent) == 1
        chat_id, reply = sender.sent[0]
        assert chat_id == int(TG)
        assert "Cook lunch at the café" in reply.text
        assert [b.label for b in reply.buttons] == [
            "✅ Yes, tell me more",
            "⏳ Not now",
            "🙏 No thank you",
            "🔊 Hear it",  # the channel reads the nudge when tapped
        ]
        assert all(len(f"0:{c}".encode()) <= 64 for c in choices)

        yes = next(c for c in choices if c.endswith(":y"))
        replies = await chat._send(Incoming("button", yes, 0))
        assert [r.key for r in replies] == ["nudge.details"]
        details = replies[0].text
        assert "Tuesdays at 2 in the afternoon" in details
        assert "The community centre" in details
        assert "Priya at the centre" in details

        again = await chat._send(Incoming("button", yes, 0))
        assert [r.key for r in again] == ["nudge.already"]
        later = await chat._send(Incoming("button", yes.replace(":y", ":n"), 0))
        assert [r.key for r in later] == ["nudge.already"]
        async with rt.sessionmaker() as session:
            answers = (await session.execute(select(NudgeResponse.answer))).scalars().all()
            alerts = (
                (await session.execute(select(StaffAlert).where(StaffAlert.kind == "interest")))
                .scalars()
                .all()
            )
        assert answers == ["yes"]
        assert len(alerts) == 1 and "Cook lunch at the café" in alerts[0].text


async def test_not_now_waits_longer_each_time(sqlite_db: Database, tmp_path: Path) -> None:
    """ "Not now" pushes the next nudge a week away, then two weeks; nothing is planned before."""
    clock = FakeClock()
    async with nudge_runtime(sqlite_db, tmp_path, clock) as rt:
        chat = await onboarded(rt, clock)
        async with rt.sessionmaker.begin() as session:
            await add_opportunity(session, "Cook lunch", "cooking")
            await add_opportunity(session, "Bake for the fair", "cooking")
        _, choices = await nudged(rt, clock)
        later = next(c for c in choices if c.endswith(":l"))
        assert (await chat._send(Incoming("button", later, 0)))[0].key == "nudge.later"
        async with rt.sessionmaker() as session:
            prefs = (await session.execute(select(NudgePrefs))).scalar_one()
        assert prefs.not_now_streak == 1
        first_wait = prefs.next_due_at.replace(tzinfo=clock.now().tzinfo) - clock.now()
        assert first_wait >= timedelta(days=7)

        clock.advance(days=6)
        assert (await planner_for(rt).sweep(clock.now())).planned == 0
        clock.advance(days=2)
        sender, choices = await nudged(rt, clock)
        assert len(sender.sent) == 1
        later = next(c for c in choices if c.endswith(":l"))
        await chat._send(Incoming("button", later, 0))
        async with rt.sessionmaker() as session:
            prefs = (await session.execute(select(NudgePrefs))).scalar_one()
        second_wait = prefs.next_due_at.replace(tzinfo=clock.now().tzinfo) - clock.now()
        assert prefs.not_now_streak == 2
        assert second_wait >= timedelta(days=14)


async def test_three_no_thanks_lower_that_kind(database: Database, tmp_path: Path) -> None:
    """After 3 "No thank you" to cooking, a gardening chance comes before a cooking one."""
    clock = FakeClock()
    async with nudge_runtime(database, tmp_path, clock) as rt:
        async with rt.sessionmaker.begin() as session:
            member = await add_member(
                session,
                int(TG),
                skills=[("cooking_meals", "cooking"), ("growing_plants", "gardening")],
                prefs={"days_mask": 0b1111111, "weekly_cap": 7},
            )
            cooking = [
                await add_opportunity(session, f"Cooking {i}", "cooking", network="default")
                for i in range(4)
            ]
            garden = await add_opportunity(session, "Allotment", "gardening")
        chat = Chat(rt.engine, TG, channel="telegram")
        sender = RecordingSender()
        service = fast_service(rt, sender, clock)
        for _ in range(3):
            await to_next_slot(rt, clock)
            await planner_for(rt).sweep(clock.now())
            await service.drain()
            _, reply = sender.sent[-1]
            assert "Cooking" in reply.text
            no = next(b.choice for b in reply.buttons if b.choice.endswith(":n"))
            assert (await chat._send(Incoming("button", no, 0)))[0].key == "nudge.no"
        await to_next_slot(rt, clock)
        await planner_for(rt).sweep(clock.now())
        rows = await outbox(rt.sessionmaker)
        assert rows[-1].member_id == member.id
        assert rows[-1].opportunity_id == garden
        assert rows[-1].opportunity_id not in cooking


async def test_nudges_off_stops_them_and_on_starts_again(
    database: Database, tmp_path: Path
) -> None:
    """/nudges off drops waiting nudges and plans none; /nudges on brings them back."""
    clock = FakeClock()
    async with nudge_runtime(database, tmp_path, clock) as rt:
        chat = await onboarded(rt, clock)
        async with rt.sessionmaker.begin() as session:
            await add_opportunity(session, "Cook lunch", "cooking")
            await add_opportunity(session, "Soup kitchen", "cooking")
        await to_next_slot(rt, clock)
        await planner_for(rt).sweep(clock.now())
        assert [r.status for r in await outbox(rt.sessionmaker)] == ["pending"]

        await chat.cmd("nudges off")
        assert chat.keys[0] == "nudges.turned_off"
        assert [r.status for r in await outbox(rt.sessionmaker)] == ["cancelled"]
        sender = RecordingSender()
        await fast_service(rt, sender, clock).drain()
        clock.advance(days=8)
        assert (await planner_for(rt).sweep(clock.now())).planned == 0
        assert sender.sent == []

        await chat.cmd("nudges on")
        assert chat.keys[0] == "nudges.turned_on"
        await to_next_slot(rt, clock)
        assert (await planner_for(rt).sweep(clock.now())).planned == 1


async def test_choosing_days_and_time_with_buttons(sqlite_db: Database, tmp_path: Path) -> None:
    """/nudges lets the member pick 2 days and a time with buttons; the next slot follows them."""
    clock = FakeClock()
    async with nudge_runtime(sqlite_db, tmp_path, clock) as rt:
        chat = await onboarded(rt, clock)
        await chat.cmd("nudges")
        assert chat.keys == ["nudges.menu"]
        assert "nudge:days" in chat.choices
        await chat.press("nudge:days")
        assert chat.keys == ["nudges.how_many"]
        await chat.press("nudge:n2")
        assert chat.keys == ["nudges.pick_day"] and len(chat.choices) == 7 + 1  # and Hear it
        assert chat.choices[-1] == HEAR_SHOWN
        tuesday = next(c for c in chat.choices if c.endswith(".1"))
        await chat.press(tuesday)
        assert chat.keys == ["nudges.pick_another"] and len(chat.choices) == 6 + 1
        friday = next(c for c in chat.choices if c.endswith(".4"))
        await chat.press(friday)
        assert chat.keys == ["nudges.pick_time"]
        await chat.press("nudge:t840")
        assert chat.keys[0] == "nudges.saved"
        assert "Tuesday" in chat.last[0].text and "Friday" in chat.last[0].text
        async with rt.sessionmaker() as session:
            prefs = (await session.execute(select(NudgePrefs))).scalar_one()
        assert prefs.days_mask == 0b10010 and prefs.time_minutes == 840
        due = prefs.next_due_at
        assert due is not None and due.weekday() in (1, 4) and due.hour == 14


async def test_only_after_consent(sqlite_db: Database, tmp_path: Path) -> None:
    """Before saying yes to what is kept, /nudges and nudge buttons change nothing."""
    async with nudge_runtime(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine, TG, channel="telegram")
        await chat.cmd("start")
        await chat.cmd("nudges")
        assert "nudges.need_start" in chat.keys
        await chat._send(Incoming("button", "nudge:off", 0))
        assert "nudges.need_start" in chat.keys
        async with rt.sessionmaker() as session:
            count = (await session.execute(select(func.count()).select_from(NudgePrefs))).scalar()
        assert count == 0


async def test_someone_elses_nudge_is_not_theirs(sqlite_db: Database, tmp_path: Path) -> None:
    """A tap carrying another member's nudge id is refused kindly and stores nothing."""
    clock = FakeClock()
    async with nudge_runtime(sqlite_db, tmp_path, clock) as rt:
        chat = await onboarded(rt, clock)
        async with rt.sessionmaker.begin() as session:
            other = await add_member(
                session, 999, name="Alex", skills=[("cooking_meals", "cooking")]
            )
            opp = await add_opportunity(session, "Cook lunch", "cooking")
            theirs = await due_nudge(session, other, opp)
        replies = await chat._send(Incoming("button", f"nudge:{theirs}:y", 0))
        assert [r.key for r in replies] == ["nudge.gone"]
        assert parse_answer(f"nudge:{theirs}:y") == (theirs, "yes")
        async with rt.sessionmaker() as session:
            assert (await session.execute(select(NudgeResponse))).first() is None


async def test_forget_me_removes_every_nudge_row(database: Database, tmp_path: Path) -> None:
    """After /forget, nothing about the member is left in the nudge tables."""
    clock = FakeClock()
    async with nudge_runtime(database, tmp_path, clock) as rt:
        chat = await onboarded(rt, clock)
        async with rt.sessionmaker.begin() as session:
            await add_opportunity(session, "Cook lunch", "cooking")
        _, choices = await nudged(rt, clock)
        await chat._send(Incoming("button", next(c for c in choices if c.endswith(":n")), 0))
        async with rt.sessionmaker() as session:
            member = (await session.execute(select(Member))).scalar_one()
            kept = await member_nudge_data(session, member.id)
        assert kept["nudge_settings"]["on"] is True
        assert kept["nudge_settings"]["quiet_hours"] == "20:00-09:00"
        assert kept["nudge_settings"]["no_thank_you_by_kind"] == {"cooking": 1}
        assert [n["answer"] for n in kept["nudges"]] == ["no"]
        assert kept["nudges"][0]["status"] == "sent" and kept["nudges"][0]["sent_at"]
        assert kept["skill_swaps"] == []
        (with_file,) = [r for r in await chat.cmd("mydata") if r.key == "mydata"]
        assert with_file.document is not None
        in_file = json.loads(with_file.document[1])  # what /mydata hands the member
        assert in_file["nudge_settings"] == kept["nudge_settings"]
        assert in_file["nudges"] == kept["nudges"]

        await chat.cmd("forget")
        await chat.press("forget_yes")
        assert chat.keys == ["forget.done"]
        async with rt.sessionmaker() as session:
            for table in (NudgePrefs, NudgeOutbox, NudgeResponse):
                count = await session.execute(select(func.count()).select_from(table))
                assert count.scalar() == 0, table.__tablename__
