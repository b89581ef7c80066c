"""Shared fixtures: a real database (SQLite file, and PostgreSQL when configured)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from bot.skills.finder import SpacySkillFinder
from storage.db import make_engine, make_sessionmaker, upgrade

if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.content import Content

pytest_plugins = ["tests.rasa_server"]

PG_URL = os.environ.get("SKILLSPARK_TEST_DATABASE_URL", "")


@dataclass(frozen=True)
class Database:
    """A database for one test: its URL and (PostgreSQL) its own schema."""

    kind: str
    url: str
    schema: str | None


def _pg_sync_url(url: str) -> str:
    """The same PostgreSQL URL for a synchronous psycopg connection."""
    return url.replace("+asyncpg", "+psycopg")


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh database: a SQLite file, or a new schema on the test PostgreSQL."""
    if request.param == "sqlite":
        yield Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'skillspark.db'}", None)
        return
    if not PG_URL:
        pytest.skip("SKILLSPARK_TEST_DATABASE_URL is not set (CI sets it)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(_pg_sync_url(PG_URL))
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield Database("postgres", PG_URL, schema)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
async def sessionmaker(database: Database) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A migrated database (SQLite file or a PostgreSQL schema)."""
    engine = make_engine(database.url, schema=database.schema)
    await upgrade(engine)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Database:
    """A SQLite file database only."""
    return Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'skillspark.db'}", None)


def make_settings(db: Database, tmp_path: Path, **extra: object) -> Settings:
    """Settings for a test: its database, no Rasa unless asked, a temp data folder."""
    values: dict[str, object] = {
        "SKILLSPARK_DATABASE_URL": db.url,
        "SKILLSPARK_DATA_DIR": tmp_path / "data",
        "SKILLSPARK_NLU_ENABLED": False,
        "SKILLSPARK_STAFF_CONTACT": "Jo at the office",
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def shared_parts() -> tuple[Content, SpacySkillFinder]:
    """The dialogues and the skill finder, built once for the whole test run."""
    from bot.app import load_app_content

    content = load_app_content(Settings(_env_file=None))  # type: ignore[call-arg]
    return content, SpacySkillFinder(content.taxonomy)


@asynccontextmanager
async def runtime_for(db: Database, tmp_path: Path, **extra: object) -> AsyncIterator[Runtime]:
    """A full runtime on this database with the rule-based understanding."""
    from bot.app import open_runtime
    from bot.nlu.rules import RuleUnderstanding

    content, finder = shared_parts()
    settings = make_settings(db, tmp_path, **extra)
    async with open_runtime(
        settings,
        understanding=RuleUnderstanding(),
        db_schema=db.schema,
        content=content,
        finder=finder,
    ) as rt:
        yield rt


#: Set to 1 (CI does, in .ci/run): a test that needs a system tool the project
#: installs (espeak-ng, chromium, the emoji font) fails when it is missing,
#: instead of being skipped, so a green run means every capability was tested.
REQUIRE_TOOLS = "SKILLSPARK_REQUIRE_TOOLS"


class LoopTicks:
    """How often the event loop got to run a tiny task: a blocked loop does not tick."""

    def __init__(self) -> None:
        """No ticks yet."""
        self.count = 0


@asynccontextmanager
async def loop_ticks(every: float = 0.01) -> AsyncIterator[LoopTicks]:
    """Count the loop's ticks (one each ``every`` seconds) while the block runs."""
    ticks = LoopTicks()

    async def tick() -> None:
        while True:
            await asyncio.sleep(every)
            ticks.count += 1

    task = asyncio.create_task(tick())
    try:
        yield ticks
    finally:
        task.cancel()


def needs_tool(present: bool, reason: str) -> pytest.MarkDecorator:
    """Skip a test when a system tool is missing, or fail it when CI requires the tools."""
    if present:
        return pytest.mark.skipif(False, reason=reason)
    if os.environ.get(REQUIRE_TOOLS) == "1":
        return pytest.mark.missing_tool(f"{REQUIRE_TOOLS}=1 but {reason}")
    return pytest.mark.skip(reason=reason)


@pytest.fixture(autouse=True)
def _fail_when_a_required_tool_is_missing(request: pytest.FixtureRequest) -> None:
    """A test marked by :func:`needs_tool` as missing a required tool fails at once."""
    marker = request.node.get_closest_marker("missing_tool")
    if marker is not None:
        pytest.fail(str(marker.args[0]), pytrace=False)


@pytest.fixture
async def anyio_backend() -> AsyncIterator[str]:
    """pytest-asyncio is the runner; this keeps anyio-based plugins quiet."""
    yield "asyncio"
