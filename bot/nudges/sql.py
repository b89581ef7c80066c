"""Small SQL helpers shared by the nudge sweeps."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Insert, Integer, Table, any_, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


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
