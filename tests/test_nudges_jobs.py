"""The nudge jobs on the application's APScheduler scheduler, end to end on the peer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.jobs import start_scheduler
from bot.nudges.jobs import add_nudge_jobs
from storage.models import utcnow
from tests.botapi_peer import BotApiPeer
from tests.conftest import Database
from tests.test_nudges_support import (
    add_member,
    add_opportunity,
    nudge_runtime,
    outbox,
    peer_bot,
    peer_sender,
)


@pytest.fixture
def peer() -> Iterator[BotApiPeer]:
    """A running Bot API peer."""
    with BotApiPeer() as running:
        yield running


async def test_scheduled_jobs_plan_and_send(
    sqlite_db: Database, tmp_path: Path, peer: BotApiPeer
) -> None:
    """With the jobs on the scheduler, a due member's nudge is planned and delivered once."""
    async with nudge_runtime(sqlite_db, tmp_path) as rt, peer_bot(peer) as bot:
        now = utcnow()
        async with rt.sessionmaker.begin() as session:
            await add_member(
                session,
                9100,
                skills=[("cooking_meals", "cooking")],
                prefs={
                    "next_due_at": now - timedelta(minutes=1),
                    "quiet_start": 0,
                    "quiet_end": 0,
                },
                now=now,
            )
            await add_opportunity(session, "Cook lunch", "cooking")
        peer.user(9100)
        scheduler = start_scheduler(rt.sessionmaker, rt.settings)
        settings = rt.settings.model_copy(
            update={"nudge_plan_seconds": 0.2, "nudge_sweep_seconds": 0.2}
        )
        jobs = add_nudge_jobs(
            scheduler,
            rt.sessionmaker,
            rt.content,
            settings,
            peer_sender(bot),
            start_in=timedelta(0),
        )
        try:
            ids = {j.id for j in scheduler.get_jobs()}
            assert {"nudge_plan", "nudge_send", "peer_match_proposals", "retention_purge"} <= ids
            await asyncio.to_thread(peer.wait_for, lambda: peer.calls_of("sendMessage"), 20)
            await asyncio.sleep(0.5)  # a few more sweeps: nothing more goes out
        finally:
            scheduler.shutdown(wait=False)
            await jobs.stop()
        assert len(peer.calls_of("sendMessage", chat_id=9100)) == 1
        assert [r.status for r in await outbox(rt.sessionmaker)] == ["sent"]
