"""Leases: work that one bot process does at a time, taken over when that process dies.

Two kinds, both rows with an owner (a process id, ``SKILLSPARK_PROCESS_ID``) and
an ``until``:

* ``chat_leases``: the process answering a chat. Only it starts that chat's
  updates, so the chat's order holds across processes; it renews the lease while
  turns run and drops it (in the transaction that forgets the answered updates)
  when the chat has nothing open. Rows of a chat whose lease ran out are taken
  over by whichever process sweeps the inbox next.
* ``job_leases``: a job that must run once across processes (nudge planning and
  sending, staff alerts, the retention purge, match proposals) and long polling.

A claim is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` (the row is free,
ran out, or is ours already) ``RETURNING`` what we now hold: atomic on
PostgreSQL and SQLite alike, with no lock held between statements. Rows, not
PostgreSQL advisory locks: an advisory lock lives as long as one pooled
connection (a lost connection frees it while the work goes on, and a stuck one
holds it forever), it does not exist on SQLite, and a row shows an operator who
holds what (docs/deploy.md). Times are the processes' clocks: keep them in sync
(NTP) and the lease well above any skew.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ChatLease, JobLease, utcnow
from storage.repo import table_of

CHATS = table_of(ChatLease)
JOBS = table_of(JobLease)


def new_process_id() -> str:
    """``host:pid:random``: unique for every start, readable in the lease tables."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def _insert(session: AsyncSession) -> Any:
    """The dialect's ``insert`` (with ``on_conflict_do_update``)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def claim_chats(
    session: AsyncSession,
    channel: str,
    chats: Iterable[int],
    owner: str,
    seconds: float,
    now: datetime | None = None,
) -> set[int]:
    """Take (or renew) the leases of ``chats`` that are free, ran out or are ours: the ones held."""
    wanted = sorted(set(chats))
    if not wanted:
        return set()
    now = now or utcnow()
    until = now + timedelta(seconds=seconds)
    base = _insert(session)(CHATS).values(
        [{"channel": channel, "chat": c, "owner": owner, "until": until} for c in wanted]
    )
    stmt = base.on_conflict_do_update(
        index_elements=[CHATS.c.channel, CHATS.c.chat],
        set_={"owner": base.excluded.owner, "until": base.excluded.until},
        where=or_(CHATS.c.until < now, CHATS.c.owner == base.excluded.owner),
    ).returning(CHATS.c.chat, CHATS.c.owner)
    rows = (await session.execute(stmt)).all()
    return {int(chat) for chat, holder in rows if holder == owner}


async def release_chats(
    session: AsyncSession, channel: str, chats: Iterable[int], owner: str
) -> None:
    """Drop our leases of ``chats`` (another process's lease is left alone)."""
    done = sorted(set(chats))
    if done:
        await session.execute(
            delete(CHATS).where(
                CHATS.c.channel == channel, CHATS.c.owner == owner, CHATS.c.chat.in_(done)
            )
        )


def live_lease_of_another(channel_col: Any, chat_col: Any, owner: str, now: datetime) -> Any:
    """SQL: a live lease of another process exists for this row's chat."""
    return (
        select(CHATS.c.chat)
        .where(
            and_(
                CHATS.c.channel == channel_col,
                CHATS.c.chat == chat_col,
                CHATS.c.owner != owner,
                CHATS.c.until >= now,
            )
        )
        .exists()
    )


async def claim_job(
    session: AsyncSession, name: str, owner: str, seconds: float, now: datetime | None = None
) -> bool:
    """Take (or renew) the lease of job ``name``; False while another process holds it."""
    now = now or utcnow()
    base = _insert(session)(JOBS).values(
        name=name, owner=owner, until=now + timedelta(seconds=seconds)
    )
    stmt = base.on_conflict_do_update(
        index_elements=[JOBS.c.name],
        set_={"owner": base.excluded.owner, "until": base.excluded.until},
        where=or_(JOBS.c.until < now, JOBS.c.owner == base.excluded.owner),
    ).returning(JOBS.c.owner)
    holder = (await session.execute(stmt)).scalar_one_or_none()
    return holder == owner


async def release_job(session: AsyncSession, name: str, owner: str) -> None:
    """Drop our lease of job ``name``."""
    await session.execute(delete(JOBS).where(JOBS.c.name == name, JOBS.c.owner == owner))


async def job_holder(session: AsyncSession, name: str) -> tuple[str, datetime] | None:
    """Who holds job ``name`` and until when (``None``: nobody)."""
    row = (
        await session.execute(select(JOBS.c.owner, JOBS.c.until).where(JOBS.c.name == name))
    ).first()
    return None if row is None else (str(row[0]), row[1])
