"""Skill swaps: staff see ideas first; members are asked only after approval; no contact details."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.nudges import matches
from bot.nudges.data import member_nudge_data
from bot.types import Incoming
from storage.models import StaffAlert
from storage.models_nudges import NudgeOutbox, PeerMatch
from tests.chat import Chat
from tests.conftest import Database
from tests.test_nudges_support import (
    FakeClock,
    RecordingSender,
    add_member,
    fast_service,
    nudge_runtime,
    outbox,
    planner_for,
)

SKILL = ("cooking_meals", "cooking")


async def people(rt: object) -> tuple[int, int, int]:
    """A cook and a would-be cook in one network, and another would-be cook elsewhere."""
    async with rt.sessionmaker.begin() as session:  # type: ignore[attr-defined]
        cook = await add_member(session, 4001, name="Jamie", skills=[SKILL], prefs={})
        learner = await add_member(session, 4002, name="Robin", wishes=["cooking_meals"], prefs={})
        far = await add_member(
            session, 4003, name="Ali", network="elsewhere", wishes=["cooking_meals"], prefs={}
        )
    return cook.id, learner.id, far.id


async def propose(rt: object) -> list[PeerMatch]:
    """Run the proposal job."""
    async with rt.sessionmaker.begin() as session:  # type: ignore[attr-defined]
        return await matches.propose_matches(session)


async def test_ideas_go_to_staff_not_members(database: Database, tmp_path: Path) -> None:
    """A match is proposed to staff only: nothing is queued for either member."""
    clock = FakeClock()
    async with nudge_runtime(database, tmp_path, clock) as rt:
        cook, learner, _ = await people(rt)
        made = await propose(rt)
        assert [(m.teacher_id, m.learner_id, m.status) for m in made] == [
            (cook, learner, "proposed")
        ]
        assert await propose(rt) == []  # not proposed twice
        async with rt.sessionmaker() as session:
            alerts = (await session.execute(select(StaffAlert.kind, StaffAlert.network))).all()
        assert alerts == [("match", "default")]
        await planner_for(rt).sweep(clock.now())
        sender = RecordingSender()
        await fast_service(rt, sender, clock).drain()
        assert [r.kind for r in await outbox(rt.sessionmaker)] == []
        assert sender.sent == []


async def test_declined_swap_is_never_asked(sqlite_db: Database, tmp_path: Path) -> None:
    """Staff say no: the members never hear about it, and it cannot be approved later."""
    clock = FakeClock()
    async with nudge_runtime(sqlite_db, tmp_path, clock) as rt:
        await people(rt)
        (match,) = await propose(rt)
        async with rt.sessionmaker.begin() as session:
            await matches.decline(session, match.id, by="Jo", note="they already know each other")
        with pytest.raises(matches.MatchError, match="already declined"):
            async with rt.sessionmaker.begin() as session:
                await matches.approve(session, match.id, by="Jo")
        assert await outbox(rt.sessionmaker) == []


async def test_approved_swap_asks_both_and_staff_arrange(
    database: Database, tmp_path: Path
) -> None:
    """After approval each member is asked in easy-read; when both say yes, staff are told."""
    clock = FakeClock()
    async with nudge_runtime(database, tmp_path, clock) as rt:
        cook, learner, _ = await people(rt)
        (match,) = await propose(rt)
        async with rt.sessionmaker.begin() as session:
            await matches.approve(session, match.id, by="Jo", now=clock.now())
        rows = await outbox(rt.sessionmaker)
        assert sorted((r.member_id, r.kind) for r in rows) == [
            (cook, "peer_teach"),
            (learner, "peer_learn"),
        ]
        clock.at = max(r.due_at for r in rows).replace(tzinfo=clock.now().tzinfo)
        sender = RecordingSender()
        await fast_service(rt, sender, clock).drain()
        assert len(sender.sent) == 2
        texts = {chat_id: reply for chat_id, reply in sender.sent}
        assert "Jamie" in texts[4001].text and "Robin" not in texts[4001].text
        assert "Robin" in texts[4002].text and "Jamie" not in texts[4002].text
        for reply in texts.values():
            assert not re.search(r"@\w|\+?\d[\d ]{7,}|t\.me/", reply.text)
            assert "cooking meals" in reply.text
            assert "Jo at the office" in reply.text  # staff arrange the meeting

        for chat_id in (4001, 4002):
            yes = next(b.choice for b in texts[chat_id].buttons if b.choice.endswith(":y"))
            chat = Chat(rt.engine, str(chat_id), channel="telegram")
            replies = await chat._send(Incoming("button", yes, 0))
            assert [r.key for r in replies] == ["peer.yes"]
        async with rt.sessionmaker() as session:
            stored = await session.get(PeerMatch, match.id)
            meet = (
                await session.execute(select(StaffAlert).where(StaffAlert.kind == "peer_meet"))
            ).scalar_one()
        assert stored is not None and stored.status == "agreed"
        assert f"members {cook} and {learner}" in meet.text

        async with rt.sessionmaker() as session:  # /mydata: the skill, never the other member
            kept = await member_nudge_data(session, cook)
        assert kept["skill_swaps"] == [
            {
                "skill": stored.label,
                "you_would": "share it",
                "status": "agreed",
                "your_answer": "yes",
            }
        ]
        assert "Robin" not in str(kept)


async def test_one_no_means_the_other_is_not_asked(sqlite_db: Database, tmp_path: Path) -> None:
    """If the first member asked says no, the other member's question is not sent."""
    clock = FakeClock()
    async with nudge_runtime(sqlite_db, tmp_path, clock) as rt:
        cook, learner, _ = await people(rt)
        (match,) = await propose(rt)
        async with rt.sessionmaker.begin() as session:
            await matches.approve(session, match.id, by="Jo", now=clock.now())
            await session.execute(
                update(NudgeOutbox)
                .where(NudgeOutbox.member_id == learner)
                .values(due_at=clock.now().replace(year=2027))
            )
        clock.at = min(r.due_at for r in await outbox(rt.sessionmaker)).replace(
            tzinfo=clock.now().tzinfo
        )
        sender = RecordingSender()
        await fast_service(rt, sender, clock).drain()
        ((chat_id, reply),) = sender.sent
        assert chat_id == 4001
        no = next(b.choice for b in reply.buttons if b.choice.endswith(":n"))
        replies = await Chat(rt.engine, "4001", channel="telegram")._send(Incoming("button", no, 0))
        assert [r.key for r in replies] == ["peer.no"]
        statuses = {r.member_id: r.status for r in await outbox(rt.sessionmaker)}
        assert statuses == {cook: "sent", learner: "cancelled"}


async def test_boundaries_limit_open_swaps(sqlite_db: Database, tmp_path: Path) -> None:
    """Members with nudges off are never proposed; one member is in at most 2 open swaps."""
    async with nudge_runtime(sqlite_db, tmp_path) as rt:
        async with rt.sessionmaker.begin() as session:
            await add_member(session, 4100, name="Cook", skills=[SKILL], prefs={})
            await add_member(
                session, 4110, name="Off", wishes=["cooking_meals"], prefs={"enabled": False}
            )
        assert await propose(rt) == []
        async with rt.sessionmaker.begin() as session:
            for n in range(4):
                await add_member(
                    session, 4101 + n, name=f"L{n}", wishes=["cooking_meals"], prefs={}
                )
        assert len(await propose(rt)) == 2
        assert await propose(rt) == []
