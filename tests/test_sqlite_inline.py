"""SQLite calls on the event loop's thread: one writer at a time, never blocking the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.db import make_engine
from storage.sqlite_inline import inline_connect
from tests.conftest import loop_ticks

ROOT = Path(__file__).resolve().parent.parent


async def _counter_table(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)"))


async def _count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.text("SELECT count(*) FROM t"))).scalar_one())


def _hold_write_lock(
    path: Path, seconds: float, started: threading.Event, releasing: list[float] | None = None
) -> None:
    """Another connection (as another process would) holds the write lock for a while.

    ``releasing`` gets the moment (``perf_counter``) just before the lock is let go.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (v) VALUES ('other process')")
        started.set()
        time.sleep(seconds)
        if releasing is not None:
            releasing.append(time.perf_counter())
        conn.execute("COMMIT")
    finally:
        conn.close()


async def test_many_writers_in_one_process_take_turns(tmp_path: Path) -> None:
    """Sessions that hold a transaction across awaits neither deadlock nor lose rows."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    await _counter_table(engine)

    async def writer(n: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO t (v) VALUES (:v)"), {"v": f"a{n}"})
            await asyncio.sleep(0.001)  # other writers get the loop while this one holds the lock
            await conn.execute(sa.text("INSERT INTO t (v) VALUES (:v)"), {"v": f"b{n}"})

    try:
        await asyncio.wait_for(asyncio.gather(*(writer(n) for n in range(40))), 20)
        assert await _count(engine) == 80
    finally:
        await engine.dispose()


async def test_a_failed_transaction_lets_the_next_writer_in(tmp_path: Path) -> None:
    """A rolled-back transaction gives the writer gate back."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    await _counter_table(engine)
    try:
        with pytest.raises(sa.exc.IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(sa.text("INSERT INTO t (id, v) VALUES (1, 'one')"))
                await conn.execute(sa.text("INSERT INTO t (id, v) VALUES (1, 'again')"))
        async with engine.begin() as conn:
            await asyncio.wait_for(
                conn.execute(sa.text("INSERT INTO t (id, v) VALUES (2, 'two')")), 5
            )
        assert await _count(engine) == 1
    finally:
        await engine.dispose()


async def write_while_another_process_writes(
    path: Path, write: Callable[[], Awaitable[None]]
) -> None:
    """Run ``write`` while another connection holds the write lock for 0.6 s.

    The write must wait for it and the event loop must keep running meanwhile.
    """
    started = threading.Event()
    releasing: list[float] = []
    holder = threading.Thread(target=_hold_write_lock, args=(path, 0.6, started, releasing))
    holder.start()
    try:
        async with loop_ticks() as ticks:
            await asyncio.to_thread(started.wait, 5)
            await write()
            ended = time.perf_counter()
        assert releasing and ended >= releasing[0], "the write should wait for the other writer"
        assert ticks.count >= 15, f"the event loop was blocked while waiting ({ticks.count} ticks)"
    finally:
        holder.join()


async def test_waiting_for_another_process_does_not_block_the_loop(tmp_path: Path) -> None:
    """While another process writes, the loop keeps serving; the write then goes through."""
    path = tmp_path / "x.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await _counter_table(engine)

    async def write() -> None:
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO t (v) VALUES ('bot')"))

    try:
        await write_while_another_process_writes(path, write)
        assert await _count(engine) == 2
    finally:
        await engine.dispose()


async def test_gives_up_like_sqlite_after_the_busy_time(tmp_path: Path) -> None:
    """A lock held longer than the busy time ends in SQLite's own "database is locked"."""
    path = tmp_path / "x.db"
    url = f"sqlite+aiosqlite:///{path}"
    engine = create_async_engine(
        url, connect_args={"async_creator_fn": partial(inline_connect, busy_seconds=0.2)}
    )
    await _counter_table(engine)
    started = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 1.0, started))
    holder.start()
    try:
        await asyncio.to_thread(started.wait, 5)
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            async with engine.begin() as conn:
                await conn.execute(sa.text("INSERT INTO t (v) VALUES ('bot')"))
    finally:
        holder.join()
        await engine.dispose()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_a_program_that_forgets_to_close_still_exits(tmp_path: Path) -> None:
    """The idle worker threads never keep a finished program alive."""
    script = textwrap.dedent(
        f"""
        import asyncio, sqlalchemy as sa
        from storage.db import make_engine

        async def main():
            engine = make_engine("sqlite+aiosqlite:///{tmp_path / "x.db"}")
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            # no engine.dispose(): the pooled connection stays open

        asyncio.run(main())
        print("done")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"
