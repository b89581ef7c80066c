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

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import transaction
from storage.models import InboundUpdate, utcnow
from storage.prepared import Prepared
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


#: The single-process inbox's statements (one call each on SQLite: ``storage/prepared.py``).
_KEEPS: dict[str, Prepared] = {}
_FORGET_ONE = Prepared(
    delete(_TABLE).where(
        _TABLE.c.channel == bindparam("channel"), _TABLE.c.update_id == bindparam("update_id")
    )
)


def _keep(session: AsyncSession) -> Prepared:
    """:func:`_insert` of whole rows (every column given), run as a prepared statement."""
    keys = ("channel", "update_id", "body", "chat", "received_at")
    prepared: Prepared = per_dialect(
        session, _KEEPS, lambda _: Prepared(_insert(session), keys=keys)
    )
    return prepared


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
        async with transaction(self.sessionmaker) as session:
            if updates:
                now = utcnow()
                rows = [
                    {
                        "channel": self.channel,
                        "update_id": i,
                        "body": b,
                        "chat": 0,
                        "received_at": now,
                    }
                    for i, b in updates
                ]
                await _keep(session).run_many(session, rows)
            if done:
                await _FORGET_ONE.run_many(
                    session, [{"channel": self.channel, "update_id": i} for i in done]
                )

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


#: One update with its chat: id, raw JSON body, chat id.
ChatRaw = tuple[int, str, int]


class SharedInbox(SqlInbox):
    """The inbox shared by several bot processes on one PostgreSQL (``storage/leases.py``).

    An update is kept with its chat; a process starts a chat's updates only
    while it holds the chat's lease (:meth:`take`), renews the lease while they
    run (:meth:`renew`) and drops it with the answered rows (:meth:`forget_done`).
    Rows of a chat whose lease ran out (its process died) are taken by the next
    :meth:`take` of any process.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        owner: str,
        *,
        lease_s: float = 30.0,
        channel: str = "telegram",
    ) -> None:
        """Keep ``channel``'s updates as process ``owner`` with leases of ``lease_s`` seconds."""
        super().__init__(sessionmaker, channel)
        self.owner = owner
        self.lease_s = lease_s
        #: how many rows the last :meth:`take` got that another process had taken before
        self.last_taken_over = 0

    async def keep_rows(self, rows: Sequence[ChatRaw]) -> None:
        """Keep new updates with their chats (one kept before is left as it is)."""
        if not rows:
            return
        now = utcnow()
        values = [
            {"channel": self.channel, "update_id": i, "body": b, "chat": c, "received_at": now}
            for i, b, c in rows
        ]
        async with self.sessionmaker.begin() as session:
            await session.execute(_insert(session), values)

    async def take(self, skip: Iterable[int] = (), limit: int = 1_000) -> list[ChatRaw]:
        """Claim the chats of waiting updates that no other live process holds; their updates.

        Oldest first; ``skip`` (updates this process has open already) are not
        returned, but their chats' leases are renewed. Candidate rows are read
        with ``FOR UPDATE SKIP LOCKED`` so two sweeps do not wait on each other;
        the lease upsert decides who holds each chat, and the held chats' rows
        are then read in full (a skipped row may be a chat's oldest).
        """
        from storage import leases

        now = utcnow()
        busy_elsewhere = leases.live_lease_of_another(
            _TABLE.c.channel, _TABLE.c.chat, self.owner, now
        )
        query = (
            select(_TABLE.c.update_id, _TABLE.c.body, _TABLE.c.chat, _TABLE.c.owner)
            .where(_TABLE.c.channel == self.channel, ~busy_elsewhere)
            .order_by(_TABLE.c.update_id)
            .limit(limit)
        )
        left_out = set(skip)
        self.last_taken_over = 0
        # Two short transactions, so no lock waits on another in a circle (a deadlock):
        # the first locks candidate rows (SKIP LOCKED: never waits on a row) and then
        # the leases (in chat order); the second marks the held chats' rows as ours and
        # waits at most for a first transaction of another process, which never waits
        # for it.
        async with self.sessionmaker.begin() as session:
            if session.bind is not None and session.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            found = (await session.execute(query)).all()
            if not found:
                return []
            held = await leases.claim_chats(
                session, self.channel, {int(r[2]) for r in found}, self.owner, self.lease_s, now
            )
        if not held:
            return []
        async with self.sessionmaker.begin() as session:
            # Read the held chats' rows again: SKIP LOCKED may have hidden an older row of
            # a chat (locked by another sweep that then lost the chat to us), and a chat's
            # rows must start oldest first.
            every = (
                select(_TABLE.c.update_id, _TABLE.c.body, _TABLE.c.chat, _TABLE.c.owner)
                .where(_TABLE.c.channel == self.channel, _TABLE.c.chat.in_(sorted(held)))
                .order_by(_TABLE.c.update_id)
            )
            taken: list[ChatRaw] = []
            marked: list[int] = []
            for update_id, body, chat, owner in (await session.execute(every)).all():
                if int(update_id) in left_out:
                    continue
                taken.append((int(update_id), str(body), int(chat)))
                if owner != self.owner:
                    marked.append(int(update_id))
                    if owner is not None:
                        self.last_taken_over += 1
            if marked:
                await session.execute(
                    update(_TABLE)
                    .where(_TABLE.c.channel == self.channel, _TABLE.c.update_id.in_(marked))
                    .values(owner=self.owner)
                )
        return taken

    async def renew(self, chats: Iterable[int]) -> set[int]:
        """Renew our leases of ``chats``; the ones still held."""
        from storage import leases

        wanted = set(chats)
        if not wanted:
            return set()
        async with self.sessionmaker.begin() as session:
            return await leases.claim_chats(session, self.channel, wanted, self.owner, self.lease_s)

    async def forget_done(self, answered: Iterable[int], idle_chats: Iterable[int]) -> None:
        """One transaction: forget answered updates, drop the leases of chats with nothing open."""
        from storage import leases

        done, idle = list(answered), set(idle_chats)
        if not done and not idle:
            return
        async with self.sessionmaker.begin() as session:
            if done:
                await session.execute(_FORGET, {"_channel": self.channel, "_ids": done})
            await leases.release_chats(session, self.channel, idle, self.owner)

    async def release_all(self) -> None:
        """Drop every chat lease of this process (on stop: its open updates wait for others)."""
        from storage.leases import CHATS

        async with self.sessionmaker.begin() as session:
            await session.execute(
                delete(CHATS).where(CHATS.c.channel == self.channel, CHATS.c.owner == self.owner)
            )
