"""The inbox: updates received from a chat channel, kept until they are answered.

Long polling confirms updates to Telegram as soon as they are in the inbox, so
getting updates never waits for a slow turn. A row stays until the bot has
handled the update *and* sent its replies; after a crash, the rows left are
handled again at start-up (the engine's dedup key stops a second answer, and
the member is shown where they are). Rows live a second or so: the inbox is a
queue, not a record (the answers are kept in ``answers``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import InboundUpdate, utcnow
from storage.repo import per_dialect, table_of

#: One update: its id and its raw JSON body as the channel received it.
Raw = tuple[int, str]


class Inbox(Protocol):
    """Where received updates wait until they are answered."""

    async def keep(self, updates: Sequence[Raw], answered: Iterable[int] = ()) -> None:
        """Keep new updates (one already kept is left as it is) and forget answered ones."""
        ...

    async def forget(self, answered: Iterable[int]) -> None:
        """Forget updates that were handled and answered."""
        ...

    async def waiting(self) -> list[Raw]:
        """Updates kept and not answered yet, oldest first."""
        ...


class MemoryInbox:
    """An inbox in memory: for tests and tools that need no crash safety."""

    def __init__(self) -> None:
        """Empty."""
        self.rows: dict[int, str] = {}

    async def keep(self, updates: Sequence[Raw], answered: Iterable[int] = ()) -> None:
        """Keep new updates and forget answered ones."""
        for update_id, body in updates:
            self.rows.setdefault(update_id, body)
        await self.forget(answered)

    async def forget(self, answered: Iterable[int]) -> None:
        """Forget answered updates."""
        for update_id in answered:
            self.rows.pop(update_id, None)

    async def waiting(self) -> list[Raw]:
        """What is left, oldest first."""
        return sorted(self.rows.items())


_TABLE = table_of(InboundUpdate)
_FORGET = delete(_TABLE).where(
    _TABLE.c.channel == bindparam("_channel"),
    _TABLE.c.update_id.in_(bindparam("_ids", expanding=True)),
)
_INSERTS: dict[str, Any] = {}


def _insert(session: AsyncSession) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the session's database."""
    return per_dialect(
        session,
        _INSERTS,
        lambda insert_: insert_(_TABLE).on_conflict_do_nothing(
            index_elements=[_TABLE.c.channel, _TABLE.c.update_id]
        ),
    )


class SqlInbox:
    """The inbox in the bot's database (table ``inbound_updates``)."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], channel: str = "telegram"
    ) -> None:
        """Keep the updates of ``channel``."""
        self.sessionmaker = sessionmaker
        self.channel = channel

    async def keep(self, updates: Sequence[Raw], answered: Iterable[int] = ()) -> None:
        """One transaction: the new updates in, the answered ones out."""
        done = list(answered)
        if not updates and not done:
            return
        async with self.sessionmaker.begin() as session:
            if updates:
                now = utcnow()
                rows = [
                    {"channel": self.channel, "update_id": i, "body": b, "received_at": now}
                    for i, b in updates
                ]
                await session.execute(_insert(session), rows)
            if done:
                await session.execute(_FORGET, {"_channel": self.channel, "_ids": done})

    async def forget(self, answered: Iterable[int]) -> None:
        """Delete answered updates."""
        await self.keep((), answered)

    async def waiting(self) -> list[Raw]:
        """Everything left for this channel, oldest first."""
        query = (
            select(_TABLE.c.update_id, _TABLE.c.body)
            .where(_TABLE.c.channel == self.channel)
            .order_by(_TABLE.c.update_id)
        )
        async with self.sessionmaker() as session:
            result = await session.execute(query)
            return [(int(i), str(b)) for i, b in result.all()]
