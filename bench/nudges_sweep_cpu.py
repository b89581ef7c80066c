"""The nudge sweeps' own cost: 100,000 members, 10,000 of them due.

Builds the database (SQLite file, or a fresh PostgreSQL schema with --pg-url),
then measures with ``time.process_time()`` (CPU of this process: on SQLite that
includes the database work; on PostgreSQL the server's own CPU is not in it):

* one planning sweep: pick the 10,000 due members, rank the open opportunities
  for each, write 10,000 outbox rows and move 10,000 members' next slots;
* the send sweep's claiming of those 10,000 rows in batches of 60 (what a sender
  does besides the Telegram call itself), and the per-row bookkeeping.

    .venv/bin/python bench/nudges_sweep_cpu.py [--members 100000] [--due 10000]
        [--history-weeks 12] [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

The machine's load average is printed before and after: on a shared machine
repeat when it was high.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import load_app_content
from bot.nudges.planner import Planner
from bot.nudges.prefs import NudgeDefaults, new_prefs
from bot.nudges.sender import NudgeService
from bot.settings import Settings
from bot.types import CATEGORIES
from storage.db import make_engine, make_sessionmaker, upgrade
from storage.models import LearningWish, Member, MemberSkill
from storage.models_nudges import NudgeOutbox, NudgePrefs, NudgeResponse, Opportunity

NOW = datetime(2026, 1, 14, 11, 0, tzinfo=UTC)  # a Wednesday, 11:00 in London


class NoSender:
    """Never called: this bench measures claiming, not sending."""

    async def send_nudge(self, chat_id: int, reply: Any) -> int | None:
        """Not used."""
        raise AssertionError("not used")


async def seed(
    url: str, schema: str | None, members: int, due: int, history_weeks: int = 0
) -> list[tuple[str, str]]:
    """Members with skills, wishes and preferences; ``due`` of them due now.

    With ``history_weeks``, every member also had one nudge a week for that many
    weeks before, half of them answered (yes, no thank you, not now).
    """
    content = load_app_content(Settings(_env_file=None))  # type: ignore[call-arg]
    skills = [(s.id, s.category) for s in content.taxonomy]
    rng = random.Random(7)
    engine = make_engine(url, schema=schema)
    await upgrade(engine)
    sm = make_sessionmaker(engine)
    networks = max(1, members // 9)
    every = max(1, members // due)
    step = 20_000
    async with sm.begin() as session:
        for start in range(1, members + 1, step):
            ids = range(start, min(members, start + step - 1) + 1)
            await session.execute(
                insert(Member),
                [
                    {
                        "id": i,
                        "telegram_id": 10_000_000 + i,
                        "first_name": f"M{i}",
                        "network": f"net{i % networks}",
                        "language": "en",
                        "consent": True,
                        "created_at": NOW,
                        "last_active_at": NOW - timedelta(days=2),
                    }
                    for i in ids
                ],
            )
            member_skills = []
            wishes = []
            prefs = []
            for i in ids:
                for skill_id, category in rng.sample(skills, 3):
                    member_skills.append(
                        {
                            "member_id": i,
                            "skill_id": skill_id,
                            "category": category,
                            "label": skill_id,
                            "status": "confirmed",
                            "source": "question",
                            "created_at": NOW,
                            "updated_at": NOW,
                        }
                    )
                skill_id, _ = rng.choice(skills)
                wishes.append(
                    {"member_id": i, "skill_id": skill_id, "label": skill_id, "created_at": NOW}
                )
                row = new_prefs(i, NudgeDefaults(), NOW - timedelta(days=8))
                row["next_due_at"] = (
                    NOW - timedelta(minutes=1) if i % every == 0 else NOW + timedelta(days=3)
                )
                prefs.append(row)
            await session.execute(insert(MemberSkill), member_skills)
            await session.execute(insert(LearningWish), wishes)
            await session.execute(insert(NudgePrefs), prefs)
        opportunities = []
        for n in range(40):
            cats = rng.sample(CATEGORIES, 2)
            opportunities.append(
                {
                    "title": f"Opportunity {n}",
                    "description": "Come along 🙂.",
                    "emoji": "🌟",
                    "categories": cats,
                    "network": None if n < 30 else f"net{n}",
                    "when_text": "",
                    "where_text": "",
                    "contact": "Jo",
                    "places": None if n % 3 else 500,
                    "status": "open",
                    "created_at": NOW,
                    "created_by": "bench",
                }
            )
        result = await session.execute(insert(Opportunity).returning(Opportunity.id), opportunities)
        opp_ids = [int(i) for i in result.scalars()]
        if history_weeks:
            await seed_history(session, rng, members, opp_ids, history_weeks)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(sa.text("ANALYZE"))
    await engine.dispose()
    return skills


async def seed_history(
    session: AsyncSession, rng: random.Random, members: int, opp_ids: list[int], weeks: int
) -> None:
    """One sent nudge a week per member for ``weeks`` weeks; half answered."""
    step = 20_000
    for start in range(1, members + 1, step):
        ids = range(start, min(members, start + step - 1) + 1)
        rows: list[dict[str, Any]] = []
        answers: list[str | None] = []
        for i in ids:
            for week, opp in enumerate(rng.sample(opp_ids, weeks), start=1):
                at = NOW - timedelta(weeks=week, hours=1)
                rows.append(
                    {
                        "member_id": i,
                        "chat_id": 10_000_000 + i,
                        "kind": "opportunity",
                        "direction": "give",
                        "opportunity_id": opp,
                        "due_at": at,
                        "send_before": at + timedelta(hours=9),
                        "status": "sent",
                        "attempts": 1,
                        "sent_at": at,
                        "created_at": at,
                    }
                )
                answered = rng.random() < 0.5
                answers.append(
                    rng.choice(("yes", "no", "no", "not_now", "not_now")) if answered else None
                )
        result = await session.execute(
            insert(NudgeOutbox).returning(NudgeOutbox.id, sort_by_parameter_order=True), rows
        )
        nudge_ids = list(result.scalars())
        await session.execute(
            insert(NudgeResponse),
            [
                {
                    "nudge_id": nudge_id,
                    "member_id": row["member_id"],
                    "opportunity_id": row["opportunity_id"],
                    "kind": "other",
                    "answer": answer,
                    "created_at": row["sent_at"],
                }
                for nudge_id, row, answer in zip(nudge_ids, rows, answers, strict=True)
                if answer is not None
            ],
        )


async def reset(url: str, schema: str | None, members: int, due: int) -> None:
    """Back to "nothing planned yet, ``due`` members due" (for a second, warm sweep)."""
    engine = make_engine(url, schema=schema)
    every = max(1, members // due)
    async with engine.begin() as conn:
        await conn.execute(
            sa.delete(NudgeOutbox).where(NudgeOutbox.due_at >= NOW - timedelta(hours=1))
        )
        await conn.execute(
            sa.update(NudgePrefs).values(
                next_due_at=sa.case(
                    (NudgePrefs.member_id % every == 0, NOW - timedelta(minutes=1)),
                    else_=NOW + timedelta(days=3),
                ),
                asked_count=0,
                last_asked_at=None,
            )
        )
    if engine.dialect.name == "sqlite":
        # The reset rewrote every member's row; fold that into the database file now
        # rather than in the middle of the next measured sweep (SQLite checkpoints
        # its write-ahead log at a commit once it is long).
        async with engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    await engine.dispose()


async def plan_all(
    sm: async_sessionmaker[AsyncSession], skills: list[tuple[str, str]], per_sweep: int | None
) -> None:
    """Planning sweeps (as scheduled, a minute apart) until no member is due; print each."""
    planner = Planner(sm, dict(skills), per_sweep=per_sweep)
    costs = []
    planned = 0
    for minute in range(100):
        cpu, wall = time.process_time(), time.perf_counter()
        report = await planner.sweep(NOW + timedelta(seconds=minute))
        cost = time.process_time() - cpu
        if not report.due:
            break
        costs.append(cost)
        planned += report.planned
        print(
            f"  sweep {minute + 1}: {report.due} due, {report.planned} planned: "
            f"CPU {cost:.3f} s (wall {time.perf_counter() - wall:.3f} s)"
        )
    print(f"  {planned} planned in {len(costs)} sweep(s); CPU in all {sum(costs):.3f} s")


async def measure(
    url: str, schema: str | None, skills: list[tuple[str, str]], members: int, due: int
) -> None:
    """Plan (cold, then warm: the process has run sweeps before) and claim; print the costs."""
    engine = make_engine(url, schema=schema)
    sm = make_sessionmaker(engine)
    print("planning, as scheduled (at most 3,000 members a sweep), first sweeps of a process:")
    await plan_all(sm, skills, 3000)
    await reset(url, schema, members, due)
    print("planning, as scheduled, again (a process that has run sweeps before):")
    await plan_all(sm, skills, 3000)
    await reset(url, schema, members, due)
    print("planning, everyone due in ONE sweep (no per-sweep limit):")
    await plan_all(sm, skills, None)
    content = load_app_content(Settings(_env_file=None))  # type: ignore[call-arg]
    service = NudgeService(sm, content, NoSender(), now=lambda: NOW + timedelta(minutes=1))
    claimed = 0
    claims = 0
    cpu, wall = time.process_time(), time.perf_counter()
    while rows := await service.claim(60):
        claimed += len(rows)
        claims += 1
    claim_cpu, claim_wall = time.process_time() - cpu, time.perf_counter() - wall
    print(
        f"send sweep claiming: {claimed} rows in {claims} claims of 60: "
        f"CPU {claim_cpu:.3f} s (wall {claim_wall:.3f} s), "
        f"{claim_cpu / max(1, claims) * 1000:.2f} ms CPU a claim"
    )
    # Per-row bookkeeping around each Telegram call: mark sending, then record sent.
    async with sm() as session:
        ids = (
            (await session.execute(sa.select(NudgeOutbox.id).order_by(NudgeOutbox.id).limit(2000)))
            .scalars()
            .all()
        )
    cpu = time.process_time()
    for nudge_id in ids:
        async with sm.begin() as session:
            await session.execute(
                sa.update(NudgeOutbox).where(NudgeOutbox.id == nudge_id).values(status="sending")
            )
        async with sm.begin() as session:
            await session.execute(
                sa.update(NudgeOutbox).where(NudgeOutbox.id == nudge_id).values(status="sent")
            )
    per_row = (time.process_time() - cpu) / max(1, len(ids))
    print(f"  per nudge bookkeeping (2 transactions): {per_row * 1000:.2f} ms CPU")
    total = claim_cpu + per_row * claimed
    print(f"  {claimed} nudges in all: {total:.2f} s CPU, spread over the ~6 minutes of sending")
    await engine.dispose()


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes): figures mean little on a busy machine."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main() -> None:
    """Parse flags, build the database, measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument(
        "--history-weeks",
        type=int,
        default=0,
        help="every member had a nudge a week for this many weeks (half answered)",
    )
    parser.add_argument("--pg-url", default="", help="PostgreSQL URL (a fresh schema is used)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        schema = None
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        if args.pg_url:
            url, schema = args.pg_url, f"bench_{uuid.uuid4().hex[:10]}"
            sync = sa.create_engine(url)
            with sync.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            started = time.perf_counter()
            skills = await seed(url, schema, args.members, args.due, args.history_weeks)
            history = (
                f", {args.history_weeks} weeks of earlier nudges" if args.history_weeks else ""
            )
            print(
                f"{args.members} members ({args.due} due), 40 open opportunities{history}, "
                f"{'PostgreSQL' if schema else 'SQLite'}; built in "
                f"{time.perf_counter() - started:.0f} s"
            )
            print(f"load average before measuring: {load()}")
            await measure(url, schema, skills, args.members, args.due)
            print(f"load average after measuring: {load()}")
        finally:
            if schema:
                with sync.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                sync.dispose()


if __name__ == "__main__":
    asyncio.run(main())
