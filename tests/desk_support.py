"""Shared helpers for the desk tests (no tests here): a running desk, staff and members."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk import auth
from bot.desk.serve import running_desk
from bot.settings import Settings
from bot.staff import roles
from bot.staff.labels import Labels
from storage import repo
from storage.db import make_engine, make_sessionmaker, upgrade
from storage.models import ConfidenceRating, Member
from storage.models_nudges import PeerMatch
from tests.conftest import Database, make_settings, shared_parts
from tests.test_nudges_support import add_member

SECRET = "desk-test-secret-" + "x" * 32
PASSWORD = "a long staff password 1"
ADMIN_PASSWORD = "the admin password 22"
NORTH_STAFF, SOUTH_STAFF, ADMIN = 501, 502, 503


@dataclass
class Seeded:
    """What :func:`seed` made: member ids by name, the swap waiting, the alert."""

    members: dict[str, int]
    match_id: int
    alert_id: int


@dataclass
class RunningDesk:
    """A desk served on loopback, with its database."""

    url: str
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    seeded: Seeded


def desk_settings(db: Database, tmp_path: Path) -> Settings:
    """Test settings with the desk switched on."""
    return make_settings(
        db,
        tmp_path,
        SKILLSPARK_DESK_ENABLED=True,
        SKILLSPARK_DESK_SECRET=SECRET,
        SKILLSPARK_DESK_LISTEN="127.0.0.1",
    )


async def seed(session: AsyncSession) -> Seeded:
    """Two networks: north (Ann teaches cooking, Bob wants to learn it, quiet Cat) and south."""
    now = datetime.now(UTC)
    ann = await add_member(
        session, 9001, name="Ann", network="north", skills=[("cooking", "cooking")], now=now
    )
    bob = await add_member(session, 9002, name="Bob", network="north", wishes=["cooking"], now=now)
    cat = await add_member(session, 9003, name='=HYPERLINK("http://x")', network="north", now=now)
    cat.last_active_at = now - timedelta(weeks=9)
    dan = await add_member(
        session, 9004, name="Dan", network="south", skills=[("gardening", "gardening")], now=now
    )
    for days, value in ((30, 1), (15, 2), (2, 3)):
        session.add(
            ConfidenceRating(
                member_id=ann.id, moment="end", value=value, created_at=now - timedelta(days=days)
            )
        )
    match = PeerMatch(
        network="north",
        teacher_id=ann.id,
        learner_id=bob.id,
        skill_id="cooking",
        category="cooking",
        label="cooking",
        score=1.0,
        status="proposed",
    )
    session.add(match)
    await session.flush()
    member = await session.get(Member, bob.id)
    assert member is not None
    alert = await repo.add_staff_alert(session, "distress", member, "Bob said: I feel unsafe")
    south = await session.get(Member, dan.id)
    assert south is not None
    await repo.add_staff_alert(session, "distress", south, "Dan said: help")
    await roles.add_staff(session, NORTH_STAFF, "north", name="Nora", added_by="test")
    await roles.add_staff(session, SOUTH_STAFF, "south", name="Sid", added_by="test")
    await roles.add_staff(session, ADMIN, "north", is_admin=True, name="Ada", added_by="test")
    await auth.set_password(session, NORTH_STAFF, PASSWORD, by="test")
    await auth.set_password(session, SOUTH_STAFF, PASSWORD, by="test")
    await auth.set_password(session, ADMIN, ADMIN_PASSWORD, by="test")
    members = {"Ann": ann.id, "Bob": bob.id, "Cat": cat.id, "Dan": dan.id}
    return Seeded(members, match.id, alert.id)


@asynccontextmanager
async def desk_for(db: Database, tmp_path: Path) -> AsyncIterator[RunningDesk]:
    """A migrated, seeded database and the desk serving it on a free loopback port."""
    settings = desk_settings(db, tmp_path)
    engine = make_engine(db.url, schema=db.schema)
    await upgrade(engine)
    sessionmaker = make_sessionmaker(engine)
    try:
        async with sessionmaker.begin() as session:
            seeded = await seed(session)
        content, _ = shared_parts()
        labels = Labels.from_content(content)
        async with running_desk(sessionmaker, labels, settings, port=0) as server:
            host, port = server.servers[0].sockets[0].getsockname()[:2]
            yield RunningDesk(f"http://{host}:{port}", sessionmaker, settings, seeded)
    finally:
        await engine.dispose()
