"""Storage: migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, select, text

from storage import repo
from storage.db import (
    current_revision,
    is_sqlite,
    load_all_models,
    make_engine,
    make_sessionmaker,
    upgrade,
)
from storage.models import Base, Member
from tests.conftest import Database


def _diff(conn: Connection) -> list[object]:
    """Differences between the migrated database and the models."""
    load_all_models()
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, Base.metadata))


async def test_migrations_match_models_and_are_repeatable(database: Database) -> None:
    """Upgrading twice is harmless and leaves no difference from the models."""
    engine = make_engine(database.url, schema=database.schema)
    try:
        await upgrade(engine)
        await upgrade(engine)
        assert await current_revision(engine) is not None
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert diff == []
        assert {
            "members",
            "answers",
            "member_skills",
            "learning_wishes",
            "confidence_ratings",
            "conversation_states",
            "audit_events",
            "processed_inputs",
        } <= tables
    finally:
        await engine.dispose()


async def test_sqlite_uses_wal(sqlite_db: Database) -> None:
    """The default SQLite file runs in WAL mode with foreign keys on."""
    assert is_sqlite(sqlite_db.url)
    engine = make_engine(sqlite_db.url)
    try:
        async with engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
            fks = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
        assert mode == "wal" and fks == 1
    finally:
        await engine.dispose()


async def test_members_by_channel_and_dedup(database: Database) -> None:
    """Members are found by Telegram id or local id; an input key is claimed once."""
    engine = make_engine(database.url, schema=database.schema)
    try:
        await upgrade(engine)
        sm = make_sessionmaker(engine)
        async with sm.begin() as session:
            a, created_a = await repo.get_or_create_member(
                session, "telegram", "42", network="north", language="en"
            )
            b, created_b = await repo.get_or_create_member(
                session, "local", "42", network="north", language="en"
            )
            again, created_again = await repo.get_or_create_member(
                session, "telegram", "42", network="north", language="en"
            )
            assert created_a and created_b and not created_again
            assert again.id == a.id != b.id
            assert await repo.claim_input(session, "tg:1", a.id) is True
            assert await repo.claim_input(session, "tg:1", a.id) is False
        async with sm() as session:
            rows = (await session.execute(select(Member.telegram_id, Member.local_id))).all()
        assert sorted(rows, key=str) == sorted([(42, None), (None, "42")], key=str)
    finally:
        await engine.dispose()


def test_default_database_is_a_sqlite_file_under_data(tmp_path: Path) -> None:
    """With no URL set, the database is data/skillspark.db."""
    from bot.settings import Settings

    settings = Settings(_env_file=None, SKILLSPARK_DATA_DIR=tmp_path)  # type: ignore[call-arg]
    assert settings.effective_database_url() == f"sqlite+aiosqlite:///{tmp_path / 'skillspark.db'}"
