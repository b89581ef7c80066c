"""The turn's statements run straight on SQLite (``storage/prepared.py``), the same on PostgreSQL.

What a member would notice if the fast path were wrong: an answer, a skill or
where they are in the conversation stored differently, a repeated update
answered twice, a turn lost while another process writes. Each test reads back
through the ORM what the prepared statements wrote.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.conversation.state import as_utc
from storage import repo
from storage.db import make_engine, make_sessionmaker, transaction, upgrade
from storage.inbox import SqlInbox
from storage.models import (
    Answer,
    AuditEvent,
    ConversationState,
    Member,
    MemberSkill,
    ProcessedInput,
)
from storage.prepared import Prepared
from tests.test_sqlite_inline import write_while_another_process_writes

Maker = async_sessionmaker[AsyncSession]


async def _member(sessionmaker: Maker, telegram_id: int = 4242) -> tuple[int, ConversationState]:
    async with transaction(sessionmaker) as session:
        member, state = await repo.member_and_state(
            session, "telegram", str(telegram_id), network="north", language="en"
        )
        return member.id, state


async def test_a_turn_written_by_prepared_statements_reads_back_the_same(
    sessionmaker: Maker,
) -> None:
    """Answer, skill, update key and state: every column as the ORM reads it."""
    member_id, state = await _member(sessionmaker)
    now = datetime(2026, 12, 7, 17, 30, 15, 123456, tzinfo=UTC)
    text = "I make tea 🍵 for my friends — «every» day\n'; DROP TABLE answers; --"
    async with transaction(sessionmaker) as session:
        await repo.record_input(session, "tg:77", member_id)
        answer_id = await repo.add_answer(
            session, member_id, "food.tea", "text", text, choice="yes", intent="affirm"
        )
        long_id = await repo.add_answer(session, member_id, "food.tea", "text", "x" * 50,
                                        max_chars=10)  # fmt: skip
        await repo.set_skill(session, member_id, skill_id="making_drinks", category="home",
                             label="Making drinks", status="suggested", source="finder",
                             evidence_answer_id=answer_id)  # fmt: skip
        await repo.set_skill(session, member_id, skill_id="making_drinks", category="home",
                             label="Making drinks", status="confirmed", source="question",
                             evidence_answer_id=None)  # fmt: skip
        state.status, state.flow_id, state.step_id, state.seq = "active", "food", "tea", 9
        data = {"prompt": {"kind": "question", "choices": ["yes", "no"]}, "name": "Zoë ✨"}
        await repo.save_state(session, state, data, now)
    assert long_id == answer_id + 1
    async with sessionmaker() as session:
        answer = await session.get(Answer, answer_id)
        assert answer is not None
        assert (answer.member_id, answer.text, answer.choice, answer.intent) == (
            member_id, text, "yes", "affirm",
        )  # fmt: skip
        assert answer.truncated is False and answer.original_length == len(text)
        cut = await session.get(Answer, long_id)
        assert cut is not None and (cut.text, cut.truncated, cut.original_length) == (
            "x" * 10, True, 50,
        )  # fmt: skip
        skill = (await session.execute(select(MemberSkill))).scalar_one()
        # the second write kept the first evidence and the first category, label and source
        assert (skill.status, skill.evidence_answer_id, skill.source) == (
            "confirmed", answer_id, "finder",
        )  # fmt: skip
        seen = await session.get(ProcessedInput, "tg:77")
        assert seen is not None and seen.member_id == member_id
        saved = await session.get(ConversationState, member_id)
        assert saved is not None
        assert (saved.status, saved.flow_id, saved.step_id, saved.seq) == (
            "active", "food", "tea", 9,
        )  # fmt: skip
        assert saved.data == data
        assert as_utc(saved.updated_at) == now


async def test_member_and_state_loaded_without_the_orm_behave_as_loaded(
    sessionmaker: Maker,
) -> None:
    """The member is in the session (a change is saved at commit); the state is not."""
    member_id, _ = await _member(sessionmaker)
    later = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    async with transaction(sessionmaker) as session:
        member, state = await repo.member_and_state(
            session, "telegram", "4242", network="north", language="en"
        )
        assert member.id == member_id and state.member_id == member_id
        assert member in session and state not in session
        assert member.preferences == {} and member.network == "north"
        assert not session.dirty  # nothing to write unless the turn changes something
        member.last_active_at = later
        member.preferences = {"read_aloud": True}
        # the same member asked for again in the session is the same object
        again = await session.get(Member, member_id)
        assert again is member
        # one the session has expired is filled in from the row, as a query would
        session.expire(member, ["network", "first_name"])
        same, _ = await repo.member_and_state(
            session, "telegram", "4242", network="north", language="en"
        )
        assert same is member and member.network == "north" and member.first_name is None
    async with sessionmaker() as session:
        stored = await session.get(Member, member_id)
        assert stored is not None
        assert as_utc(stored.last_active_at) == later
        assert stored.preferences == {"read_aloud": True}


async def test_a_repeated_update_key_is_refused_as_an_integrity_error(sessionmaker: Maker) -> None:
    """The engine knows a repeated update by SQLAlchemy's IntegrityError, on both databases."""
    member_id, _ = await _member(sessionmaker)
    async with transaction(sessionmaker) as session:
        await repo.record_input(session, "tg:1", member_id)
    with pytest.raises(IntegrityError):
        async with transaction(sessionmaker) as session:
            await repo.add_answer(session, member_id, "q", "text", "kept?")
            await repo.record_input(session, "tg:1", member_id)
    async with sessionmaker() as session:  # the whole turn was rolled back
        assert (await session.execute(select(sa.func.count()).select_from(Answer))).scalar() == 0


async def test_the_inbox_keeps_and_forgets_through_prepared_statements(
    sessionmaker: Maker,
) -> None:
    """Kept once (a repeat is left as it is), forgotten by id, oldest first."""
    inbox = SqlInbox(sessionmaker)
    await inbox.keep([(3, '{"update_id": 3}'), (1, '{"update_id": 1}')])
    await inbox.keep([(1, '{"changed": true}'), (2, '{"update_id": 2}')], answered=[3])
    assert await inbox.waiting() == [(1, '{"update_id": 1}'), (2, '{"update_id": 2}')]
    await inbox.forget([1, 2, 99])
    assert await inbox.waiting() == []


async def test_on_sqlite_the_statements_bypass_sqlalchemy_and_on_postgresql_they_do_not(
    sessionmaker: Maker,
) -> None:
    """The fast path is really taken on SQLite (and only there)."""
    engine = sessionmaker.kw["bind"]
    through_sqlalchemy: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def seen(*args: object) -> None:
        through_sqlalchemy.append(str(args[2]))

    member_id, _ = await _member(sessionmaker)
    through_sqlalchemy.clear()
    async with transaction(sessionmaker) as session:
        await repo.record_input(session, "tg:5", member_id)
        await repo.add_answer(session, member_id, "q", "text", "hello")
    inserts = [sql for sql in through_sqlalchemy if sql.lstrip().upper().startswith("INSERT")]
    if engine.dialect.name == "sqlite":
        assert inserts == []
    else:
        assert len(inserts) == 2


def test_a_statement_with_values_not_given_by_the_caller_is_refused() -> None:
    """Prepared statements skip SQLAlchemy's defaults and literals: every value is named."""
    engine = make_engine("sqlite+aiosqlite://")
    table = repo.table_of(ProcessedInput)
    try:
        prepared = Prepared(insert(table), keys=("key", "member_id"))
        with pytest.raises(ValueError, match="give every column"):
            prepared.compiled(engine.dialect)
        literal = Prepared(sa.delete(table).where(table.c.key == "tg:1"))
        with pytest.raises(ValueError, match="give every column"):
            literal.compiled(engine.dialect)
        # a value with no place in the statement is refused, not dropped
        compiled = repo._INSERT_INPUT.compiled(engine.dialect)
        row = {"key": "tg:1", "member_id": 1, "at": datetime.now(UTC), "extra": "lost?"}
        with pytest.raises(ValueError, match="does not take"):
            compiled.parameters(row)
    finally:
        engine.sync_engine.dispose()


async def test_a_json_none_is_stored_as_sqlalchemy_stores_it(sessionmaker: Maker) -> None:
    """Every value goes through its type's conversion, None too (JSON keeps ``null``)."""
    table = repo.table_of(AuditEvent)
    columns = ("at", "actor", "action", "member_id", "detail")
    prepared = Prepared(insert(table), keys=columns)
    row = {"at": datetime(2026, 12, 7, tzinfo=UTC), "actor": "desk:1", "action": "test",
           "member_id": None, "detail": None}  # fmt: skip
    async with transaction(sessionmaker) as session:
        await prepared.run(session, {**row, "actor": "prepared"})
        await session.execute(insert(table), {**row, "actor": "sqlalchemy"})
    async with sessionmaker() as session:
        raw = await session.execute(sa.text("SELECT actor, detail, member_id FROM audit_events"))
        stored = {actor: (detail, member) for actor, detail, member in raw.all()}
    assert stored["prepared"] == stored["sqlalchemy"]


async def test_a_failed_session_is_refused_by_sqlalchemy_not_written(
    sessionmaker: Maker,
) -> None:
    """After a failed flush the session must be rolled back: no statement slips through."""
    member_id, _ = await _member(sessionmaker)
    async with sessionmaker() as session:
        await repo.record_input(session, "tg:9", member_id)
        session.add(ProcessedInput(key="tg:9", member_id=member_id))
        with pytest.raises(IntegrityError):
            await session.flush()
        with pytest.raises(sa.exc.PendingRollbackError):
            await repo.record_input(session, "tg:10", member_id)
        await session.rollback()
    async with sessionmaker() as session:
        assert await session.get(ProcessedInput, "tg:10") is None


async def test_a_prepared_write_waits_for_another_process_without_blocking(
    tmp_path: Path,
) -> None:
    """The writer gate and busy retries hold on the fast path too."""
    path = tmp_path / "x.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    sessionmaker = make_sessionmaker(engine)
    member_id, _ = await _member(sessionmaker)

    async def write() -> None:
        async with transaction(sessionmaker) as session:
            await repo.add_answer(session, member_id, "q", "text", "waited")

    await write_while_another_process_writes(path, write)
    async with sessionmaker() as session:
        texts = (await session.execute(select(Answer.text))).scalars().all()
    await engine.dispose()
    assert texts == ["waited"]


async def test_transaction_commits_and_rolls_back(sessionmaker: Maker) -> None:
    """``transaction`` is ``sessionmaker.begin()``: kept on success, gone on an error."""
    member_id, _ = await _member(sessionmaker)
    async with transaction(sessionmaker) as session:
        await repo.add_answer(session, member_id, "q", "text", "kept")
    with pytest.raises(RuntimeError):
        async with transaction(sessionmaker) as session:
            await repo.add_answer(session, member_id, "q", "text", "dropped")
            raise RuntimeError("the turn failed")
    async with sessionmaker() as session:
        texts = (await session.execute(select(Answer.text))).scalars().all()
    assert texts == ["kept"]
