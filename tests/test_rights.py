"""Member data rights: see my data, stop, forget me, and the retention purge."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text, update

from bot.app import Runtime
from storage import repo
from storage.db import load_all_models
from storage.models import Answer, AuditEvent, Base, Member, StaffAlert, utcnow
from tests.chat import Chat
from tests.conftest import Database, runtime_for
from tests.test_engine import count


async def _rows_about(rt: Runtime, member_id: int) -> dict[str, int]:
    """Rows in every table that still point at the member (the audit tombstone aside)."""
    load_all_models()
    found: dict[str, int] = {}
    async with rt.sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            column = "id" if table.name == "members" else "member_id"
            if column not in table.c:
                continue
            stmt = select(func.count()).select_from(table).where(table.c[column] == member_id)
            if table.name == "audit_events":
                stmt = stmt.where(table.c.action != "member_erased")
            n = int((await session.execute(stmt)).scalar_one())
            if n:
                found[table.name] = n
    return found


async def _member_id(rt: Runtime) -> int:
    """The only member's id."""
    async with rt.sessionmaker() as session:
        return int((await session.execute(select(Member.id))).scalar_one())


async def test_my_data_shows_everything_kept(sqlite_db: Database, tmp_path: Path) -> None:
    """/mydata lists counts in easy-read and sends a file with every answer."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.say("i walk my neighbours dog")
        await chat.press("skill_yes")
        question = chat.keys[-1]
        await chat.cmd("mydata")
        assert chat.keys == ["mydata", "mydata_pdf", question]
        reply = chat.last[0]
        assert reply.document is not None
        name, content = reply.document
        data = json.loads(content)
        assert name.endswith(".json")
        assert data["member"]["first_name"] == "Sam"
        assert "i walk my neighbours dog" in [a["text"] for a in data["answers"]]
        assert any(s["status"] == "confirmed" for s in data["skills"])
        assert f"Your answers: {len(data['answers'])}" in reply.text


async def test_forget_erases_everything_but_a_tombstone(database: Database, tmp_path: Path) -> None:
    """/forget, confirmed, leaves nothing about the member except the audit tombstone."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.press("yes")
        await chat.press("skill_yes")
        await chat.say("i would like to learn to swim")
        await chat.say("i am scared, my neighbour shouts at me")  # a distress alert
        member_id = await _member_id(rt)
        async with rt.sessionmaker.begin() as session:  # staff have received the alert
            await session.execute(update(StaffAlert).values(delivered_at=utcnow()))
        await chat.cmd("forget")
        assert chat.keys == ["forget.confirm"]
        await chat.press("forget_no")
        assert chat.keys[0] == "forget.kept"
        assert await _rows_about(rt, member_id) != {}
        await chat.say("delete my answers")
        assert chat.keys == ["forget.confirm"]
        await chat.press("forget_yes")
        assert chat.keys == ["forget.done"]
        assert chat.last[0].buttons[0].choice == "go:try_again"  # start again
        assert await _rows_about(rt, member_id) == {}
        async with rt.sessionmaker() as session:
            tomb = (await session.execute(select(AuditEvent))).scalars().all()
            notices = (
                (await session.execute(select(StaffAlert).where(StaffAlert.kind == "erasure")))
                .scalars()
                .all()
            )
        assert [(t.action, t.member_id, t.actor) for t in tomb] == [
            ("member_erased", member_id, "member")
        ]
        assert len(notices) == 1 and str(member_id) in notices[0].text
        # Coming back starts again as a new member.
        await chat.say("hello")
        assert chat.keys == ["onboarding.welcome", "onboarding.read_aloud"]


async def test_stop_offers_a_break_or_deleting(sqlite_db: Database, tmp_path: Path) -> None:
    """Stop asks: a break, delete my answers, or carry on."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        question = chat.keys[-1]
        await chat.cmd("stop")
        assert chat.keys == ["stop.menu"]
        assert chat.choices == ["pause", "forget", "carry_on", "hear"]
        await chat.press("carry_on")
        assert chat.keys == [question]
        await chat.say("stop")
        await chat.press("forget")
        assert chat.keys == ["forget.confirm"]
        await chat.press("forget_no")
        assert chat.keys == ["forget.kept", question]
        await chat.say("stop")
        await chat.press("pause")
        assert chat.keys == ["confidence.end"]
        await chat.press("skip")
        assert chat.keys == ["stop.bye"]


async def test_before_consent_nothing_to_see_or_delete(sqlite_db: Database, tmp_path: Path) -> None:
    """Before consent, /mydata and /forget say kindly that nothing is kept."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.cmd("start")
        await chat.cmd("mydata")
        assert chat.keys[0] == "mydata.none"
        await chat.cmd("forget")
        assert chat.keys[0] == "forget.nothing"
        assert await count(rt, Answer) == 0


async def test_retention_purges_old_free_text(database: Database, tmp_path: Path) -> None:
    """Free-text answers older than the retention period are deleted; buttons stay."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.say("i like to bake cakes")
        await chat.say("nah")
        async with rt.sessionmaker.begin() as session:
            old = utcnow() - timedelta(days=800)
            await session.execute(
                update(Answer).where(Answer.text == "i like to bake cakes").values(created_at=old)
            )
        async with rt.sessionmaker.begin() as session:
            purged = await repo.purge_old_text(session, utcnow() - timedelta(days=730))
        assert purged == 1
        async with rt.sessionmaker() as session:
            texts = (await session.execute(select(Answer.text))).scalars().all()
            assert "i like to bake cakes" not in texts and "nah" in texts
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1


async def test_my_data_file_includes_nudge_settings(sqlite_db: Database, tmp_path: Path) -> None:
    """What the nudges feature keeps (settings, nudges, swaps) is in the /mydata file too."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.cmd("nudges off")
        await chat.cmd("mydata")
        name, content = chat.last[0].document or ("", b"")
        data = json.loads(content)
    assert name.endswith(".json")
    assert data["nudge_settings"]["on"] is False
    assert data["nudges"] == [] and data["skill_swaps"] == []
