"""Leases on a real database (SQLite file and PostgreSQL): chats, jobs, health (issue 16)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.health import head_revision, readiness
from bot.jobs import RunOnce
from bot.nlu.rules import RuleUnderstanding
from bot.telegram.intake import Intake
from storage.inbox import ChatRaw, SharedInbox
from tests.conftest import Database


def rows_for(chat: int, *ids: int) -> list[tuple[int, str, int]]:
    return [(i, json.dumps({"update_id": i}), chat) for i in ids]


async def test_one_chat_is_handled_by_one_process_until_it_lets_go(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    a = SharedInbox(sessionmaker, "proc-a", lease_s=30)
    b = SharedInbox(sessionmaker, "proc-b", lease_s=30)
    await a.keep_rows(rows_for(1, 10, 12))
    await b.keep_rows(rows_for(2, 11) + rows_for(1, 13))  # b received one of chat 1's
    taken_a = await a.take()
    assert [(i, c) for i, _, c in taken_a] == [(10, 1), (11, 2), (12, 1), (13, 1)]
    assert await b.take() == []  # both chats are a's now
    await a.keep_rows(rows_for(2, 14))
    assert [i for i, _, _ in await a.take(skip=[10, 11, 12, 13])] == [14]
    # a answers chat 2 and lets it go in the same transaction; chat 1 stays a's
    await a.forget_done([11, 14], idle_chats=[2])
    await b.keep_rows(rows_for(2, 15))
    assert [i for i, _, _ in await b.take()] == [15]
    assert b.last_taken_over == 0  # nobody had taken 15 before


async def test_a_dead_processs_chats_are_taken_over_when_the_lease_runs_out(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # 2.5 s: room for the steps before the sleep on a busy machine
    dead = SharedInbox(sessionmaker, "dead", lease_s=2.5)
    alive = SharedInbox(sessionmaker, "alive", lease_s=30)
    await dead.keep_rows(rows_for(7, 1, 2))
    assert len(await dead.take()) == 2
    assert await alive.take() == []  # the lease is live
    await asyncio.sleep(2.7)
    assert [i for i, _, _ in await alive.take()] == [1, 2]
    assert alive.last_taken_over == 2
    assert await dead.renew([7]) == set()  # it lost the chat


async def test_a_process_that_stops_with_chats_open_lets_another_take_them_at_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A graceful stop that ran out of time: the other process need not wait for the lease."""
    stopping = Intake(
        SharedInbox(sessionmaker, "stopping", lease_s=30),
        chat_of=lambda data: int(data["chat"]),
        sweep_s=0.05,
    )
    started: list[int] = []
    await stopping.replay(lambda update_id, _data, _keep: started.append(update_id))
    await stopping.receive(
        [{"update_id": 1, "chat": 7}, {"update_id": 2, "chat": 8}], lambda *_: None
    )
    for _ in range(100):
        if len(started) == 2:
            break
        await asyncio.sleep(0.05)
    assert sorted(started) == [1, 2]
    stopping.answered(1, None)  # chat 7 was answered; chat 8's turn is still running
    await stopping.close()
    other = SharedInbox(sessionmaker, "other", lease_s=30)
    assert [(i, c) for i, _, c in await other.take()] == [(2, 8)]
    assert other.last_taken_over == 1


class GatedInbox(SharedInbox):
    """A shared inbox whose takes wait for a gate (a sweep caught in the middle)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = asyncio.Event()
        self.taking = asyncio.Event()

    async def take(self, skip: Iterable[int] = (), limit: int = 1_000) -> list[ChatRaw]:
        self.taking.set()
        await self.gate.wait()
        return await super().take(skip, limit)


async def test_a_stopping_process_starts_nothing_more_even_from_a_sweep_under_way(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Updates a sweep takes as the stop begins are left to the other processes, not started."""
    inbox = GatedInbox(sessionmaker, "stopping", lease_s=30)
    stopping = Intake(inbox, chat_of=lambda data: int(data["chat"]), sweep_s=0.05)
    started: list[int] = []
    replaying = asyncio.create_task(
        stopping.replay(lambda update_id, _data, _keep: started.append(update_id))
    )
    await inbox.taking.wait()  # the first sweep is inside take()
    other = SharedInbox(sessionmaker, "other", lease_s=30)
    await other.keep_rows(rows_for(7, 1))  # an update arrives at the other process
    stopping.stop_starting()  # the stop begins (TelegramChannel.drain)
    inbox.gate.set()  # the sweep under way takes the update's chat
    await replaying
    await asyncio.sleep(0.2)  # later sweeps (they still renew leases)
    assert started == []
    await stopping.close()
    assert [(i, c) for i, _, c in await other.take()] == [(1, 7)]


async def test_sweeps_of_several_processes_at_once_never_deadlock(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Three processes take, answer and let go of 60 busy chats at once; all rows are answered.

    Short leases make them take chats from each other (a process "too slow") while new
    updates keep coming: on PostgreSQL the lease and row locks must never wait in a circle.
    """
    procs = [SharedInbox(sessionmaker, f"proc-{n}", lease_s=0.3) for n in range(3)]
    total = 600
    answered: list[int] = []

    async def feed() -> None:
        for start in range(0, total, 60):
            batch = [(i, json.dumps({"update_id": i}), i % 60) for i in range(start, start + 60)]
            await procs[start // 60 % 3].keep_rows(batch)
            await asyncio.sleep(0.01)

    async def work(inbox: SharedInbox) -> None:
        idle_rounds = 0
        while idle_rounds < 20:
            taken = await inbox.take()
            if not taken:
                idle_rounds += 1
                await asyncio.sleep(0.02)
                continue
            idle_rounds = 0
            answered.extend(i for i, _, _ in taken)
            await inbox.forget_done([i for i, _, _ in taken], {c for _, _, c in taken})

    await asyncio.wait_for(asyncio.gather(feed(), *(work(p) for p in procs)), 120)
    assert set(answered) == set(range(total))
    async with sessionmaker() as session:
        left = (await session.execute(text("SELECT count(*) FROM inbound_updates"))).scalar()
    assert left == 0


async def test_a_job_runs_in_one_process_and_moves_when_its_holder_stops_renewing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    runs: list[str] = []

    async def job(who: str) -> str:
        runs.append(who)
        return who

    first = RunOnce(sessionmaker, "first", lease_s=2.5)  # room for the steps before the sleep
    second = RunOnce(sessionmaker, "second", lease_s=2.5)
    job_1 = first.wrap("nudge_send", job, every_s=0.1)
    job_2 = second.wrap("nudge_send", job, every_s=0.1)
    assert await job_1("first") == "first"
    assert await job_2("second") is None
    assert await job_1("first") == "first"  # the holder keeps it run after run
    await asyncio.sleep(2.7)  # first stopped renewing (it died)
    assert await job_2("second") == "second"
    assert await job_1("first") is None
    assert runs == ["first", "first", "second"]
    assert second.skipped == {"nudge_send": 1}


async def test_ready_only_with_the_database_at_the_migration_head(
    database: Database, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    engine = sessionmaker.kw["bind"]
    ready = await readiness(engine, RuleUnderstanding())
    assert ready.ok, ready.as_json()
    assert ready.as_json()["status"] == "ready"
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    behind = await readiness(engine, RuleUnderstanding())
    assert not behind.ok
    assert behind.as_json()["checks"]["migrations"] == {
        "ok": False,
        "detail": f"database at 0005, code at {head_revision()}",
    }
    assert not (await readiness(None, None)).ok


@pytest.mark.parametrize("degraded", [False, True])
async def test_the_nlu_fallback_counts_as_ready(
    sessionmaker: async_sessionmaker[AsyncSession], degraded: bool
) -> None:
    class Resilient:
        rasa = object()

        def __init__(self) -> None:
            self.degraded = degraded

    ready = await readiness(sessionmaker.kw["bind"], Resilient())
    assert ready.ok
    assert ready.as_json()["checks"]["nlu"]["detail"] == (
        "simple rules (Rasa is not answering)" if degraded else "rasa"
    )
