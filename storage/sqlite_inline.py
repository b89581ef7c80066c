"""SQLite statements run on the event loop's own thread, one writer at a time.

The stock ``aiosqlite`` driver sends every call (cursor, execute, fetch, close,
commit) to a worker thread and waits for the answer. For SQLite, whose calls
take microseconds, those thread hops cost far more than the work: each one
waits for the event loop and for the GIL, and under load a turn of the
conversation spent most of its time there. This module keeps ``aiosqlite``
(and SQLAlchemy's dialect for it) but runs the calls inline instead.

Running inline needs two rules, both kept here:

* **One writer per database in this process.** A connection that is about to
  start a transaction takes the database's writer gate (an ``asyncio.Lock``)
  and keeps it until the transaction ends. Without the gate, a second
  connection of this process would wait inside SQLite for a lock held by a
  coroutine that can never run while the loop is blocked. Reads outside a
  transaction also pass the gate, briefly.
* **Never sleep inside SQLite.** The busy timeout is 0: when another *process*
  (a staff command, say) holds the write lock, SQLite answers "database is
  locked" at once, and the call is tried again after an ``asyncio.sleep``, so
  other members' turns go on meanwhile. It gives up after ``busy_seconds`` with
  the same error SQLite would have raised.

A retried call is safe: SQLite reports "busy" only when it could not take a
lock, before the statement changed anything (in WAL mode a transaction's first
write takes the lock, and nothing else in it can be busy after that).
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

#: How long a call waits for another process's write lock before giving up.
BUSY_SECONDS = 30.0
_FIRST_WAIT, _LONGEST_WAIT = 0.001, 0.05

_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def writer_gate(database: str) -> asyncio.Lock:
    """The writer gate of one database file, for the running event loop."""
    loop = asyncio.get_running_loop()
    gates = _gates.setdefault(loop, {})
    key = str(Path(database).resolve()) if database and database != ":memory:" else database
    gate = gates.get(key)
    if gate is None:
        gate = gates[key] = asyncio.Lock()
    return gate


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """True for SQLite's "database is locked" / "database is busy"."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    message = str(exc).lower()
    return "database is locked" in message or "database is busy" in message


def _in_transaction(conn: sqlite3.Connection) -> bool:
    """True while ``conn`` has a transaction open (False once it is closed)."""
    try:
        return conn.in_transaction
    except sqlite3.ProgrammingError:
        return False


class InlineConnection(aiosqlite.Connection):
    """An ``aiosqlite`` connection whose calls run inline behind the writer gate.

    The worker thread of ``aiosqlite`` is still started: it opens the
    connection (and runs SQLAlchemy's isolation-level change), then idles.
    """

    def __init__(
        self,
        connector: Callable[[], sqlite3.Connection],
        iter_chunk_size: int,
        database: str,
        busy_seconds: float,
    ) -> None:
        """Open ``database`` with ``connector`` when awaited."""
        super().__init__(connector, iter_chunk_size)
        self._database = database
        self._busy_seconds = busy_seconds
        self._gate: asyncio.Lock | None = None
        self._holding = False

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one call now, behind the gate, retrying while another process writes."""
        conn = self._connection
        if not self._running or conn is None:
            raise ValueError("Connection closed")
        if not self._holding:
            if self._gate is None:
                self._gate = writer_gate(self._database)
            await self._acquire(self._gate)
        try:
            return await self._call(fn, args, kwargs)
        finally:
            if self._holding and not _in_transaction(conn):
                self._holding = False
                self._gate_release()

    async def run_now(
        self, sql: str, parameters: Sequence[Any], *, many: bool = False
    ) -> sqlite3.Cursor:
        """Run one statement on this connection now (``storage.prepared``): no cursor hops.

        Same gate and retries as every other call; with ``many`` the statement
        runs once per parameter row.
        """
        conn = self._connection
        if conn is None:
            raise ValueError("Connection closed")
        call = conn.executemany if many else conn.execute
        cursor: sqlite3.Cursor = await self._execute(call, sql, parameters)
        return cursor

    async def _acquire(self, gate: asyncio.Lock) -> None:
        """Take the gate, or fail like SQLite does after its busy timeout."""
        if not gate.locked():
            await gate.acquire()  # free: returns at once, no timer needed
            self._holding = True
            return
        try:
            await asyncio.wait_for(gate.acquire(), self._busy_seconds)
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        self._holding = True

    def _gate_release(self) -> None:
        """Let the next connection of this process in."""
        if self._gate is not None and self._gate.locked():
            self._gate.release()

    async def _call(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Call ``fn``; on "database is locked", wait without blocking the loop and retry."""
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        wait = _FIRST_WAIT
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                now = loop.time()
                if deadline is None:
                    deadline = now + self._busy_seconds
                if now >= deadline:
                    raise
                await asyncio.sleep(min(wait, deadline - now))
                wait = min(wait * 2, _LONGEST_WAIT)

    def stop(self) -> asyncio.Future[Any] | None:
        """Stop the worker thread; a gate still held is given back."""
        if self._holding:
            self._holding = False
            self._gate_release()
        stopped: asyncio.Future[Any] | None = super().stop()
        return stopped


def inline_connect(
    database: str | Path,
    *,
    iter_chunk_size: int = 64,
    busy_seconds: float = BUSY_SECONDS,
    **kwargs: Any,
) -> InlineConnection:
    """Like ``aiosqlite.connect``, for SQLAlchemy's ``async_creator_fn``."""
    location = str(database)
    kwargs["timeout"] = 0  # never sleep inside SQLite: see the module docstring
    kwargs["check_same_thread"] = False  # opened by the worker thread, used by the loop

    def connector() -> sqlite3.Connection:
        opened: sqlite3.Connection = sqlite3.connect(location, **kwargs)
        return opened

    connection = InlineConnection(connector, iter_chunk_size, location, busy_seconds)
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite: never holds up exit
    return connection
