"""Small SQL helpers shared by the nudge sweeps."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Insert,
    Integer,
    String,
    Table,
    Text,
    any_,
    bindparam,
    func,
    insert,
    select,
    type_coerce,
)
from sqlalchemy import cast as cast_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op


def dialect(session: AsyncSession) -> str:
    """The database dialect name of a session ("sqlite", "postgresql")."""
    return session.bind.dialect.name if session.bind is not None else ""


def insert_ignoring_duplicates(table: Table, dialect_name: str) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` (rows whose key exists are left alone)."""
    if dialect_name == "postgresql":
        return postgresql_insert(table).on_conflict_do_nothing()
    if dialect_name == "sqlite":
        return sqlite_insert(table).on_conflict_do_nothing()
    return insert(table)


def one_of(column: Any, ids: Sequence[int], dialect_name: str) -> ColumnElement[bool]:
    """``column IN ids`` with the whole list as one parameter.

    Thousands of ids as separate parameters cost more to render than the query
    itself; PostgreSQL takes an array, SQLite a JSON list read by ``json_each``.
    """
    values = [int(i) for i in ids]
    if dialect_name == "postgresql":
        condition: ColumnElement[bool] = column == any_(
            bindparam(None, values, type_=ARRAY(Integer), unique=True)
        )
        return condition
    if dialect_name == "sqlite":
        rows = func.json_each(bindparam(None, json.dumps(values), unique=True)).table_valued(
            "value"
        )
        in_rows: ColumnElement[bool] = column.in_(select(rows.c.value))
        return in_rows
    plain: ColumnElement[bool] = column.in_(values)
    return plain


def in_ids(column: Any, name: str, dialect_name: str) -> ColumnElement[bool]:
    """``column IN :name``, where ``:name`` is one list of ids (see :func:`ids_param`).

    Like :func:`one_of`, but with a named parameter, so a statement can be built
    once and run many times with different ids.
    """
    if dialect_name == "postgresql":
        condition: ColumnElement[bool] = column == any_(bindparam(name, type_=ARRAY(Integer)))
        return condition
    if dialect_name == "sqlite":
        rows = func.json_each(bindparam(name, type_=String)).table_valued("value")
        in_rows: ColumnElement[bool] = column.in_(select(rows.c.value))
        return in_rows
    plain: ColumnElement[bool] = column.in_(bindparam(name, expanding=True))
    return plain


def ids_param(ids: Sequence[int], dialect_name: str) -> Any:
    """The value for an :func:`in_ids` parameter."""
    values = [int(i) for i in ids]
    return json.dumps(values) if dialect_name == "sqlite" else values


def raw(column: Any) -> Any:
    """A column read without the driver-side conversion SQLAlchemy would do per row.

    SQLite keeps times as text and JSON as text; a sweep reading 10,000 rows
    turns each distinct value into a Python object once (:class:`Decoded`)
    instead of once a row. PostgreSQL's driver already hands back objects.
    """
    return type_coerce(column, String)


def raw_json(column: Any, dialect_name: str) -> Any:
    """A JSON column read as its text (see :func:`raw`; PostgreSQL's driver would parse
    every row's JSON itself)."""
    if dialect_name == "postgresql":
        return cast_(column, Text)
    return raw(column)


class Decoded:
    """Turns raw times and JSON from :func:`raw` columns into objects, once per value.

    Keeps at most ``most`` values of each kind (then starts afresh), so a
    long-lived sender does not keep every time it ever read.
    """

    def __init__(self, most: int = 50_000) -> None:
        """Empty caches."""
        self.most = most
        self._times: dict[Any, datetime | None] = {None: None}
        self._json: dict[Any, Any] = {}

    def time(self, value: Any) -> datetime | None:
        """A stored time as aware UTC (SQLite: ``'2026-01-14 11:00:00.000000'``)."""
        cached = self._times.get(value, _MISSING)
        if cached is not _MISSING:
            return cast(datetime | None, cached)
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        if len(self._times) > self.most:
            self._times = {None: None}
        self._times[value] = at
        return at

    def json(self, value: Any) -> Any:
        """A stored JSON value (the same object for the same text: do not change it)."""
        if not isinstance(value, str):
            return value
        cached = self._json.get(value, _MISSING)
        if cached is _MISSING:
            if len(self._json) > self.most:
                self._json = {}
            cached = self._json[value] = json.loads(value)
        return cached


_MISSING: Any = object()


def unindexed(column: Any, dialect_name: str) -> Any:
    """``column`` in a form SQLite will not look up by index (its unary ``+``).

    SQLite's planner, without statistics, may walk an index on a few-valued
    column (a state) over everyone's rows rather than the index meant for the
    query (a member's, an opportunity's). Elsewhere the column as it is.
    """
    if dialect_name == "sqlite":
        return UnaryExpression(column, operator=custom_op("+"), type_=column.type)
    return column


def id_list(ids: Any, dialect_name: str) -> Any:
    """An aggregate: the group's non-null ids as text, ``"3,17,40"`` (None for none).

    Read with :func:`id_set`. One row a member instead of one a nudge.
    """
    if dialect_name == "postgresql":
        return func.string_agg(cast_(ids, Text), ",")
    return func.group_concat(ids)


def id_set(text: str) -> set[int]:
    """The ids of an :func:`id_list`."""
    return {int(i) for i in text.split(",")}
