"""A real sender process stopped with SIGTERM mid-run, then restarted: each nudge exactly once.

The sender is a separate Python process running what the bot runs (the
APScheduler nudge jobs with the python-telegram-bot sender, stopping on
SIGTERM/SIGINT); the Bot API is the loopback peer in this process. The peer
holds the calls on the wire at the moment of the signal, so the stop really
happens mid-call: those calls must finish and be recorded, nothing may be left
``sending`` or ``unknown``, and the restarted sender sends the rest, once each.

Run as a script (``--sender``), this file is the sender process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # the sender process: make the project importable
    sys.path.insert(0, str(ROOT))

from bot.nudges.jobs import add_nudge_jobs  # noqa: E402
from bot.nudges.ptb import TelegramNudgeSender  # noqa: E402
from tests.botapi_peer import TOKEN, BotApiPeer  # noqa: E402
from tests.conftest import Database, make_settings  # noqa: E402
from tests.test_nudges_support import (  # noqa: E402
    add_member,
    add_opportunity,
    due_nudge,
    nudge_ids,
    nudge_runtime,
    outbox,
)

pytestmark = pytest.mark.slow

COUNT = 60
FIRST = 7700
RATE = 20.0


@pytest.fixture
def peer() -> Iterator[BotApiPeer]:
    """A running Bot API peer."""
    with BotApiPeer() as running:
        yield running


def start_sender(db: Database, tmp_path: Path, peer: BotApiPeer) -> subprocess.Popen[bytes]:
    """Start one sender process (this file, run as a script)."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--sender",
        "--db-url",
        db.url,
        "--schema",
        db.schema or "",
        "--api",
        peer.base_url,
        "--data",
        str(tmp_path / "data"),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SKILLSPARK_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(command, cwd=ROOT, env=env)


def stop(proc: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> int:
    """Send ``sig`` and wait for the process to end; its exit code."""
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


async def test_sigterm_mid_run_loses_nothing_and_doubles_nothing(
    database: Database, tmp_path: Path, peer: BotApiPeer
) -> None:
    """SIGTERM with calls on the wire: they finish and are recorded; a restart sends the rest."""
    async with nudge_runtime(database, tmp_path) as rt:
        ids = []
        async with rt.sessionmaker.begin() as session:
            opp = await add_opportunity(session, "Garden day", "gardening")
            for n in range(COUNT):
                member = await add_member(
                    session, FIRST + n, name=f"M{n}", prefs={"quiet_start": 0, "quiet_end": 0}
                )
                peer.user(FIRST + n, f"M{n}")
                ids.append(await due_nudge(session, member, opp, due_at=rt_now()))

        first = start_sender(database, tmp_path, peer)
        try:
            await asyncio.to_thread(
                peer.wait_for, lambda: len(peer.calls_of("sendMessage")) >= COUNT // 3, 60
            )
            peer.hold("sendMessage")  # the next calls stay on the wire
            await asyncio.to_thread(peer.wait_for, lambda: peer.held_calls("sendMessage"), 10)
            first.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)  # the sender is stopping while its calls wait for answers
            on_the_wire = peer.held_calls("sendMessage")
            peer.release("sendMessage")
            code = await asyncio.to_thread(first.wait, 30)
        finally:
            if first.poll() is None:
                first.kill()
        assert code == 0
        assert on_the_wire >= 1
        delivered = Counter(nudge_ids(peer))
        rows = await outbox(rt.sessionmaker)
        states = Counter(r.status for r in rows)
        assert states["sending"] == states["claimed"] == states["unknown"] == 0, states
        assert {r.id for r in rows if r.status == "sent"} == set(delivered)  # all recorded
        assert 0 < states["sent"] < COUNT and states["pending"] == COUNT - states["sent"]

        second = start_sender(database, tmp_path, peer)
        try:
            await asyncio.to_thread(
                peer.wait_for, lambda: len(peer.calls_of("sendMessage")) >= COUNT, 60
            )
            await asyncio.sleep(0.5)  # a few more sweeps: nothing more may go out
        finally:
            assert await asyncio.to_thread(stop, second) == 0

        delivered = Counter(nudge_ids(peer))
        assert sorted(delivered) == sorted(ids)  # zero lost
        assert set(delivered.values()) == {1}  # zero twice
        assert {r.status for r in await outbox(rt.sessionmaker)} == {"sent"}


def rt_now() -> object:
    """Now (the sender process runs on the real clock)."""
    from storage.models import utcnow

    return utcnow() - timedelta(seconds=1)


# ---------------------------------------------------------------------- the sender process


async def run_sender(args: argparse.Namespace) -> None:
    """What the bot runs for nudges: the jobs on APScheduler until SIGTERM/SIGINT."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from bot.app import load_app_content
    from bot.telegram.app import api_base_urls
    from storage.db import make_engine, make_sessionmaker

    db = Database("postgres" if args.schema else "sqlite", args.db_url, args.schema or None)
    settings = make_settings(
        db,
        Path(args.data),
        SKILLSPARK_NUDGE_SWEEP_SECONDS=0.5,
        SKILLSPARK_NUDGE_RATE=RATE,
    )
    engine = make_engine(db.url, schema=db.schema)
    base_url, file_url = api_base_urls(args.api)
    bot = Bot(TOKEN, base_url=base_url, base_file_url=file_url, request=HTTPXRequest())
    await bot.initialize()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    scheduler = AsyncIOScheduler(timezone="UTC")
    jobs = add_nudge_jobs(
        scheduler,
        make_sessionmaker(engine),
        load_app_content(settings),
        settings,
        TelegramNudgeSender(bot),
        start_in=timedelta(0),
        stop=stopping,
    )
    scheduler.start()
    await stopping.wait()
    await jobs.stop()
    scheduler.shutdown(wait=False)
    await bot.shutdown()
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sender", action="store_true")
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--schema", default="")
    parser.add_argument("--api", required=True)
    parser.add_argument("--data", required=True)
    asyncio.run(run_sender(parser.parse_args()))
