"""The staff desk's page times over real HTTP, on a SQLite file with one network of members.

Seeds ``--members`` consenting members (3 confirmed skills, 2 wishes and 6
confidence answers each), serves the desk on loopback, signs in and fetches the
members page, one profile and one XLSX download ``--rounds`` times each. Prints
p50 and p95 in milliseconds.

    .venv/bin/python bench/desk_pages.py [--members 300] [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from bot.app import load_app_content  # noqa: E402
from bot.desk import auth  # noqa: E402
from bot.desk.serve import running_desk  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.staff import roles  # noqa: E402
from bot.staff.labels import Labels  # noqa: E402
from storage.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from storage.models import ConfidenceRating, LearningWish, Member, MemberSkill  # noqa: E402

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PASSWORD = "bench password 123"


async def seed(sessionmaker: async_sessionmaker[AsyncSession], members: int) -> int:
    """Members, their skills, wishes and ratings; one staff member; the first member's id."""
    now = datetime.now(UTC)
    first = 0
    async with sessionmaker.begin() as session:
        for n in range(members):
            m = Member(
                telegram_id=10_000 + n,
                first_name=f"Member {n}",
                network="north",
                consent=True,
                last_active_at=now - timedelta(days=n % 60),
            )
            session.add(m)
            await session.flush()
            first = first or m.id
            for skill in ("cooking", "gardening", "listening"):
                session.add(
                    MemberSkill(
                        member_id=m.id,
                        skill_id=skill,
                        category=skill,
                        label=skill,
                        status="confirmed",
                        source="question",
                    )
                )
            for wish in ("painting", "music"):
                session.add(LearningWish(member_id=m.id, skill_id=wish, label=wish))
            for day in range(6):
                session.add(
                    ConfidenceRating(
                        member_id=m.id,
                        moment="end",
                        value=1 + day % 3,
                        created_at=now - timedelta(days=30 - day),
                    )
                )
        await roles.add_staff(session, 1, "north", name="Bench", added_by="bench")
        await auth.set_password(session, 1, PASSWORD, by="bench")
    return first


def percentiles(samples: list[float]) -> str:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


async def main(members: int, rounds: int) -> None:
    """Seed, serve, fetch and print."""
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            SKILLSPARK_DATABASE_URL=f"sqlite+aiosqlite:///{folder}/bench.db",
            SKILLSPARK_DESK_SECRET="bench-secret-" + "b" * 32,
            SKILLSPARK_NLU_ENABLED=False,
        )
        engine = make_engine(settings.effective_database_url())
        await upgrade(engine)
        sessionmaker = make_sessionmaker(engine)
        first = await seed(sessionmaker, members)
        labels = Labels.from_content(load_app_content(settings))
        async with running_desk(sessionmaker, labels, settings, port=0) as server:
            host, port = server.servers[0].sockets[0].getsockname()[:2]
            async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
                page = await http.get("/signin")
                token = TOKEN.search(page.text)
                assert token is not None
                data = {"csrf_token": token.group(1), "telegram_id": "1", "password": PASSWORD}
                await http.post("/signin", data=data)
                print(f"staff desk, {members} members on SQLite, {rounds} rounds each")
                for name, path in (
                    ("members page", "/"),
                    ("one profile", f"/members/{first}"),
                    ("XLSX download", f"/members/{first}/profile.xlsx"),
                    ("PDF download", f"/members/{first}/profile.pdf"),
                ):
                    samples = []
                    for _ in range(rounds):
                        start = time.perf_counter()
                        answer = await http.get(path)
                        samples.append(time.perf_counter() - start)
                        assert answer.status_code == 200, (path, answer.status_code)
                    print(f"  {name:14} {percentiles(samples)}   {len(answer.content):,} bytes")
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.members, args.rounds))
