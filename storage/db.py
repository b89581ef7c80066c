"""Database engines, sessions and migrations (SQLite file by default, PostgreSQL too)."""

from __future__ import annotations

import importlib.util
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

from storage.sqlite_inline import inline_connect

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


#: Sync drivers (or none) and the async driver SkillSpark uses instead.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg2": "postgresql+psycopg",
}


def async_url(url: str) -> str:
    """The URL with an async driver: ``sqlite:///x.db`` becomes ``sqlite+aiosqlite:///x.db``.

    ``postgresql://`` (and ``postgres://``, ``postgresql+psycopg2://``) become
    ``postgresql+psycopg://``; a URL with an async driver is left as it is.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    better = _ASYNC_DRIVERS.get(scheme.lower())
    return f"{better}://{rest}" if better else url


#: The async drivers SkillSpark runs on, and the module each one imports.
_DRIVER_MODULES = {
    "sqlite+aiosqlite": "aiosqlite",
    "postgresql+psycopg": "psycopg",
    "postgresql+psycopg_async": "psycopg",
}
SUPPORTED = (
    "SkillSpark supports SQLite and PostgreSQL: set SKILLSPARK_DATABASE_URL to "
    "sqlite+aiosqlite:///path/to/file.db or postgresql+psycopg://user@host:5432/name"
)


class UnsupportedDatabase(ValueError):
    """A database URL SkillSpark cannot use (the message says what to write instead)."""


def check_url(url: str) -> None:
    """Refuse a URL that is not SQLite or PostgreSQL with an installed driver SkillSpark uses.

    Raises :class:`UnsupportedDatabase`; the message names the driver, never the password.
    """
    try:
        driver = make_url(url).drivername.lower()
    except ArgumentError:
        raise UnsupportedDatabase(f"the database URL cannot be read; {SUPPORTED}") from None
    module = _DRIVER_MODULES.get(driver)
    if module is None:
        raise UnsupportedDatabase(
            f"the database URL asks for {driver}, which SkillSpark does not run on; {SUPPORTED}"
        )
    if importlib.util.find_spec(module) is None:
        raise UnsupportedDatabase(
            f"the database URL asks for {driver}, but its driver {module} is not installed "
            f"(pip install {module}); {SUPPORTED}"
        )


def is_sqlite(url: str) -> bool:
    """True when the URL points at SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(
    url: str, *, schema: str | None = None, echo: bool = False, sqlite_inline: bool = True
) -> AsyncEngine:
    """Create an async engine; SQLite gets WAL mode, PostgreSQL an optional schema.

    ``schema`` (PostgreSQL only) sets the connection's ``search_path`` so a test
    run can keep its tables in a schema of its own and drop it afterwards.
    SQLite calls run on the event loop's thread (:mod:`storage.sqlite_inline`)
    unless ``sqlite_inline`` is False (then aiosqlite's worker threads run them).
    A URL without an async driver gets one (:func:`async_url`); a database or driver
    SkillSpark does not support raises :class:`UnsupportedDatabase`.
    """
    url = async_url(url)
    check_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        if sqlite_inline:
            kwargs["connect_args"] = {"async_creator_fn": inline_connect}
        else:
            kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
        kwargs["pool_size"] = 10
        if schema:
            kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        _install_sqlite_pragmas(engine, busy_timeout_ms=0 if sqlite_inline else 30_000)
        if sqlite_inline:
            _INLINE_ENGINES.add(engine.sync_engine)
    return engine


#: Engines whose SQLite calls run inline (their transactions end without a hop).
_INLINE_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _install_sqlite_pragmas(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    """Turn on WAL, foreign keys and the busy timeout on every SQLite connection.

    Inline connections wait for other processes' locks outside SQLite (timeout 0).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def load_all_models() -> None:
    """Import every ``storage/models*.py`` so all tables are on ``Base.metadata``."""
    import importlib
    import pkgutil

    import storage

    for info in pkgutil.iter_modules(storage.__path__):
        if info.name.startswith("models"):
            importlib.import_module(f"storage.{info.name}")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """A session factory; objects stay usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """``sessionmaker.begin()``: one transaction, committed at the end, rolled back on error.

    On inline SQLite (:mod:`storage.sqlite_inline`) it ends the transaction in
    the caller's task. SQLAlchemy's own
    context managers end it in two new tasks each, shielded from cancellation
    (a network round trip must not be cut off); SQLite's calls run inline here
    and have no round trip to protect, and the two tasks cost a quarter of the
    time of a whole turn's transaction. Used where every update pays for it.
    """
    bind = sessionmaker.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.sync_engine not in _INLINE_ENGINES:
        async with sessionmaker.begin() as session:
            yield session
        return
    session = sessionmaker()
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the project's migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    """Run every migration up to head on a sync connection."""
    command.upgrade(alembic_config(connection), "head")


#: PostgreSQL advisory lock key held while migrating (several processes start at once).
MIGRATION_LOCK = 0x5C111_5A4C


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the database schema up to date (run at every start).

    On PostgreSQL one process migrates at a time (a transaction-scoped advisory
    lock): bot processes starting together would otherwise race to create tables.
    """
    from sqlalchemy import text

    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await conn.run_sync(_upgrade)


def _current(connection: Connection) -> str | None:
    """The schema revision on a sync connection."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The schema revision the database is at (``None`` when empty)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)
