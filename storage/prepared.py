"""The statements of every turn, compiled once and run straight on SQLite's connection.

A turn of the conversation runs five or six small statements (the member and
their state, the update key, the answer, a skill, the new state). Through
``AsyncSession.execute`` each costs about 0.1 ms of Python (ORM checks, the
execution context, result objects, two greenlet switches) against some 0.02 ms
of SQLite; with the inbox's rows they were a third of the bot's CPU per update.

:class:`Prepared` keeps SQLAlchemy's own compilation (SQL text, parameter order,
the dialect's conversions for dates, JSON and booleans, in and out), done once,
and on an inline SQLite connection (:mod:`storage.sqlite_inline`) runs the SQL
on the session's own connection, inside the session's transaction, through the
connection's writer gate and busy retries. On any other database (PostgreSQL)
it is ``session.execute``: nothing changes there.

Rules for a statement made :class:`Prepared`:

* every value is a named ``bindparam`` (no Python-side column defaults: give
  each column a value), checked when it is first compiled;
* the ORM is not involved: objects in the session are not flushed first (as
  with any Core statement ``session.execute`` runs);
* it is compiled once per dialect *name* with that dialect's conversions
  (SkillSpark sets no custom JSON serializer on any engine).

It reads SQLAlchemy's compiled statement (``positiontup``, ``binds``, the types'
cached bind and result processors): internals of the 2.1 line that
``pyproject.toml`` pins, checked by ``tests/test_prepared.py``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from storage.sqlite_inline import InlineConnection

Processor = Callable[[Any], Any] | None

#: ``session.info`` key: (the transaction, its inline connection or None)
_INFO_KEY = "skillspark.inline"


@dataclass(frozen=True)
class _Compiled:
    """One statement compiled for one dialect: SQL, parameter order and conversions."""

    sql: str
    names: tuple[str, ...]
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]
    #: how many named values the statement takes (a name may stand twice in ``names``)
    taken: int

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional parameters for one row of values, converted for the driver.

        A value the statement has no place for is refused, as ``session.execute``
        refuses it ("unconsumed column names"), instead of being dropped.
        """
        if len(values) != self.taken:
            unused = sorted(set(values) - set(self.names))
            raise ValueError(f"values the statement does not take: {unused}")
        out = []
        for name, process in zip(self.names, self.binds, strict=True):
            value = values[name]
            out.append(process(value) if process is not None else value)
        return tuple(out)

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        """A result row converted from the driver's values."""
        return tuple(
            process(value) if process is not None else value
            for value, process in zip(raw, self.results, strict=True)
        )


class Prepared:
    """A Core statement run on every turn (see the module docstring)."""

    def __init__(self, statement: Executable, *, keys: Sequence[str] | None = None) -> None:
        """``keys``: the column names an ``insert()`` without ``values()`` is given."""
        self.statement = statement
        self.keys = list(keys) if keys is not None else None
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        """The statement compiled for ``dialect`` (once)."""
        done = self._compiled.get(dialect.name)
        if done is None:
            done = self._compiled[dialect.name] = self._compile(dialect)
        return done

    def _compile(self, dialect: Dialect) -> _Compiled:
        """Compile and check that every value comes from a named parameter."""
        compiled = cast(
            SQLCompiler,
            self.statement.compile(  # type: ignore[attr-defined]
                dialect=dialect, column_keys=self.keys
            ),
        )
        names = tuple(compiled.positiontup or ())
        if compiled.params and not names:
            raise ValueError(f"{self.statement} has no positional parameters on {dialect.name}")
        missing = [
            n
            for n in names
            if n not in compiled.binds
            or compiled.binds[n].callable is not None
            or not compiled.binds[n].required  # a literal: not in the caller's values
        ]
        prefetch = getattr(compiled, "insert_prefetch", ()) or getattr(
            compiled, "update_prefetch", ()
        )
        if missing or prefetch:
            raise ValueError(f"{self.statement}: give every column a bindparam ({missing})")
        binds = tuple(compiled.binds[n].type._cached_bind_processor(dialect) for n in names)
        results: list[Processor] = []
        for column in getattr(self.statement, "selected_columns", ()):
            assert isinstance(column, ColumnElement)
            results.append(column.type._cached_result_processor(dialect, None))
        return _Compiled(str(compiled), names, binds, tuple(results), len(set(names)))

    async def rows(self, session: AsyncSession, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run a query; its rows (converted as SQLAlchemy would)."""
        inline = await _inline(session)
        if inline is None:
            result = await session.execute(self.statement, values)
            return [tuple(row) for row in result.all()]
        compiled = self.compiled(session.get_bind().dialect)
        cursor = await self._run(inline, compiled, compiled.parameters(values))
        return [compiled.row(raw) for raw in cursor.fetchall()]

    async def run(self, session: AsyncSession, values: Mapping[str, Any]) -> None:
        """Run an INSERT, UPDATE or DELETE."""
        inline = await _inline(session)
        if inline is None:
            await session.execute(self.statement, values)
            return
        compiled = self.compiled(session.get_bind().dialect)
        await self._run(inline, compiled, compiled.parameters(values))

    async def insert_id(self, session: AsyncSession, values: Mapping[str, Any]) -> int:
        """Run an INSERT into a table with an integer key; the new row's key."""
        inline = await _inline(session)
        if inline is None:
            result = cast(CursorResult[Any], await session.execute(self.statement, values))
            key = result.inserted_primary_key
            assert key is not None and key[0] is not None
            return int(key[0])
        compiled = self.compiled(session.get_bind().dialect)
        cursor = await self._run(inline, compiled, compiled.parameters(values))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def run_many(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run an INSERT, UPDATE or DELETE once for each row (one call on SQLite)."""
        if not rows:
            return
        inline = await _inline(session)
        if inline is None:
            await session.execute(self.statement, list(rows))
            return
        compiled = self.compiled(session.get_bind().dialect)
        await self._run(inline, compiled, [compiled.parameters(row) for row in rows], many=True)

    @staticmethod
    async def _run(
        inline: InlineConnection, compiled: _Compiled, parameters: Any, *, many: bool = False
    ) -> sqlite3.Cursor:
        """Run on the inline connection; a driver error becomes SQLAlchemy's, as it would."""
        try:
            return await inline.run_now(compiled.sql, parameters, many=many)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(
                compiled.sql, parameters, exc, sqlite3.Error, ismulti=many
            ) from exc


async def _inline(session: AsyncSession) -> InlineConnection | None:
    """The session's inline SQLite connection in this transaction (None: use SQLAlchemy)."""
    sync = session.sync_session
    transaction = sync.get_transaction()
    if transaction is not None and not transaction.is_active:
        return None  # failed earlier: SQLAlchemy says so (PendingRollbackError), not SQLite
    known = sync.info.get(_INFO_KEY)
    if transaction is not None and known is not None and known[0] is transaction:
        return cast(InlineConnection | None, known[1])
    connection = await session.connection()  # begins the transaction when none is open
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    inline = driver if isinstance(driver, InlineConnection) else None
    sync.info[_INFO_KEY] = (sync.get_transaction(), inline)
    return inline
