"""The inbox of received updates, on a real SQLite file and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.intake import Intake, Keep
from storage.inbox import MemoryInbox, SqlInbox


def update(update_id: int, text: str) -> tuple[int, str]:
    """A raw update as Telegram sends it."""
    body = {"update_id": update_id, "message": {"message_id": 1, "text": text}}
    return update_id, json.dumps(body)


async def test_updates_wait_in_order_until_answered_and_a_repeat_changes_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    inbox = SqlInbox(sessionmaker)
    await inbox.keep([update(12, "tea ☕"), update(10, "hello 👋")])
    await inbox.keep([update(10, "a changed copy"), update(11, "x" * 20_000)])
    waiting = await inbox.waiting()
    assert [i for i, _ in waiting] == [10, 11, 12]
    assert json.loads(waiting[0][1])["message"]["text"] == "hello 👋"  # the first copy stays
    assert len(json.loads(waiting[1][1])["message"]["text"]) == 20_000
    await inbox.forget([10, 12, 99])
    assert [i for i, _ in await inbox.waiting()] == [11]
    # new updates in and answered ones out, in one go
    await inbox.keep([update(13, "more")], answered=[11])
    assert [i for i, _ in await inbox.waiting()] == [13]


async def test_each_channel_has_its_own_updates(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    telegram, other = SqlInbox(sessionmaker), SqlInbox(sessionmaker, channel="other")
    await telegram.keep([update(1, "a")])
    await other.keep([update(1, "b")])
    await telegram.forget([1])
    assert await telegram.waiting() == []
    assert [json.loads(b)["message"]["text"] for _, b in await other.waiting()] == ["b"]


async def test_the_memory_inbox_behaves_the_same() -> None:
    inbox = MemoryInbox()
    await inbox.keep([update(2, "b"), update(1, "a")])
    await inbox.keep([update(1, "changed")], answered=[2])
    assert [(i, json.loads(b)["message"]["text"]) for i, b in await inbox.waiting()] == [(1, "a")]


async def test_answered_updates_are_cleared_in_chunks_and_kept_when_the_database_is_away() -> None:
    class Flaky(MemoryInbox):
        """Fails the first delete; records the size of each."""

        def __init__(self) -> None:
            super().__init__()
            self.deletes: list[int] = []
            self.down = True

        async def forget(self, answered: Any) -> None:
            ids = list(answered)
            if not ids:
                return
            if self.down:
                self.down = False
                raise OSError("database is away")
            self.deletes.append(len(ids))
            await super().forget(ids)

    inbox = Flaky()
    intake = Intake(inbox, gather_s=0)
    started: list[tuple[int, Keep]] = []
    updates = [{"update_id": i, "message": {"text": "hi"}} for i in range(1, 1201)]
    await intake.receive(updates, lambda i, data, keeping: started.append((i, keeping)))
    assert [i for i, _ in started] == list(range(1, 1201)) and len(inbox.rows) == 1200
    for update_id, keeping in started:
        intake.answered(update_id, keeping)
    assert intake.open_count == 0
    assert not await intake.flush()  # the database is away: nothing lost, tried again later
    assert len(inbox.rows) == 1200
    assert await intake.flush()
    assert inbox.deletes == [500, 500, 200] and inbox.rows == {}
    await intake.close()
