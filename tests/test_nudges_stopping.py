"""Stopping cleanly; nudges whose fate is unknown: never resent, shown to staff, settled by a tap.

Real database, the real python-telegram-bot sender and the loopback Bot API peer;
only the clock is fake (see test_nudges_sender.py).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from telegram import Bot
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest
from typer.testing import CliRunner

from bot.app import Runtime
from bot.nudges.cli import nudges_app
from bot.nudges.ptb import TelegramNudgeSender
from bot.nudges.sender import SendReport
from bot.settings import get_settings
from bot.telegram.app import api_base_urls
from bot.types import Button, Reply
from storage.models_nudges import NudgeOutbox, NudgeResponse
from tests.botapi_peer import TOKEN, BotApiPeer
from tests.chat import Chat
from tests.conftest import Database
from tests.test_nudges_support import (
    WINTER,
    FakeClock,
    fast_service,
    nudge_ids,
    nudge_runtime,
    outbox,
    peer_bot,
    peer_sender,
    seed_due_nudges,
)


@pytest.fixture
def peer() -> Iterator[BotApiPeer]:
    """A running Bot API peer."""
    with BotApiPeer() as running:
        yield running


async def seed(rt: Runtime, peer: BotApiPeer, count: int) -> list[int]:
    """``count`` members, each with one nudge due now (ids from 7300); the nudge ids."""
    return await seed_due_nudges(rt, peer, count, first_id=7300)


async def test_stop_finishes_the_call_on_the_wire_and_gives_the_rest_back(
    database: Database, tmp_path: Path, peer: BotApiPeer
) -> None:
    """stop(): no new calls; the one on the wire is recorded sent; the others go back."""
    clock = FakeClock()
    async with nudge_runtime(database, tmp_path, clock) as rt, peer_bot(peer) as bot:
        ids = await seed(rt, peer, 8)
        service = fast_service(rt, peer_sender(bot), clock, batch=8)
        peer.hold("sendMessage")
        draining = asyncio.create_task(service.drain())
        await asyncio.to_thread(peer.wait_for, lambda: peer.held_calls("sendMessage") == 1, 10)
        stopping = asyncio.create_task(service.stop())
        await asyncio.sleep(0.2)
        assert not stopping.done()  # it waits for the answer to the call on the wire
        peer.release("sendMessage")
        released = await asyncio.wait_for(stopping, 10)
        report = await draining
        assert report.sent == 1 and released == 7
        assert len(peer.calls_of("sendMessage")) == 1
        states = Counter(r.status for r in await outbox(rt.sessionmaker))
        assert states == {"sent": 1, "pending": 7}
        assert (await service.sweep()) == SendReport()  # a stopped service takes nothing

        again = fast_service(rt, peer_sender(bot), clock)
        assert (await again.drain()).sent == 7
        assert Counter(nudge_ids(peer)) == Counter(ids)


async def test_a_scheduler_shutting_down_does_not_cut_a_call_short(
    sqlite_db: Database, tmp_path: Path, peer: BotApiPeer
) -> None:
    """APScheduler cancels running jobs on shutdown; the call on the wire is still recorded."""
    clock = FakeClock()
    async with nudge_runtime(sqlite_db, tmp_path, clock) as rt, peer_bot(peer) as bot:
        await seed(rt, peer, 3)
        service = fast_service(rt, peer_sender(bot), clock)
        peer.hold("sendMessage")
        job = asyncio.create_task(service.sweep())
        await asyncio.to_thread(peer.wait_for, lambda: peer.held_calls("sendMessage") == 1, 10)
        job.cancel()  # what AsyncIOScheduler.shutdown() does to a running job
        stopping = asyncio.create_task(service.stop())
        await asyncio.sleep(0.1)
        peer.release("sendMessage")
        await asyncio.wait_for(stopping, 10)
        states = Counter(r.status for r in await outbox(rt.sessionmaker))
        assert states == {"sent": 1, "pending": 2}


async def test_a_lost_answer_is_unknown_never_resent_listed_and_settled_by_a_tap(
    sqlite_db: Database, tmp_path: Path, peer: BotApiPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection drops after the request went out: maybe sent, so never sent again;
    staff see it in ``skillspark nudges status``; the member's tap marks it sent."""
    clock = FakeClock()
    async with nudge_runtime(sqlite_db, tmp_path, clock) as rt, peer_bot(peer) as bot:
        (nudge,) = await seed(rt, peer, 1)
        peer.fail("sendMessage", drop=True)  # the request arrives, the answer never comes
        service = fast_service(rt, peer_sender(bot), clock)
        report = await service.drain()
        assert report.unknown == 1 and report.sent == 0 and report.retried == 0
        clock.advance(hours=1)
        assert (await service.drain()).sent == 0
        assert peer.received("sendMessage") == 1
        (row,) = await outbox(rt.sessionmaker)
        assert row.status == "unknown" and (row.last_error or "").startswith("maybe sent")

        monkeypatch.setenv("SKILLSPARK_DATABASE_URL", sqlite_db.url)
        get_settings.cache_clear()
        try:
            shown = await asyncio.to_thread(
                CliRunner().invoke, nudges_app, ["status", "--days", "400"]
            )
        finally:
            get_settings.cache_clear()
        assert shown.exit_code == 0, shown.output
        assert "unknown 1" in shown.output
        assert f"nudge {nudge}  member {row.member_id} (M0)" in shown.output
        assert '"Garden day"' in shown.output

        member = Chat(rt.engine, "7300", channel="telegram")
        await member.press(f"nudge:{nudge}:y", 0)
        assert member.keys[0] == "nudge.details"
        (row,) = await outbox(rt.sessionmaker)
        assert row.status == "sent" and row.sent_at is not None


async def test_no_connection_means_not_sent_and_tried_again(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Nothing listens: the request never left, so the nudge waits and is tried again later."""
    clock = FakeClock()
    async with nudge_runtime(sqlite_db, tmp_path, clock) as rt:
        with BotApiPeer() as gone:
            await seed(rt, gone, 1)
            base_url, file_url = api_base_urls(gone.base_url)
        request = HTTPXRequest()
        bot = Bot(TOKEN, base_url=base_url, base_file_url=file_url, request=request)
        try:
            report = await fast_service(rt, TelegramNudgeSender(bot), clock).drain()
        finally:
            await request.shutdown()
        assert report.retried == 1 and report.unknown == 0
        (row,) = await outbox(rt.sessionmaker)
        assert row.status == "pending" and "NotSent" in (row.last_error or "")


async def test_a_sender_found_dead_mid_call_leaves_unknown_unless_answered(
    database: Database, tmp_path: Path, peer: BotApiPeer
) -> None:
    """Rows a dead sender left ``sending`` become unknown, or sent when the member answered."""
    clock = FakeClock()
    async with nudge_runtime(database, tmp_path, clock) as rt, peer_bot(peer) as bot:
        answered, silent = await seed(rt, peer, 2)
        async with rt.sessionmaker.begin() as session:
            await session.execute(
                update(NudgeOutbox).values(
                    status="sending", claimed_by="host-a:1:aa", lease_until=WINTER
                )
            )
            row = await session.get(NudgeOutbox, answered)
            assert row is not None
            session.add(
                NudgeResponse(
                    nudge_id=answered,
                    member_id=row.member_id,
                    opportunity_id=row.opportunity_id,
                    kind="gardening",
                    answer="no",
                )
            )
        clock.advance(seconds=31)
        report = await fast_service(rt, peer_sender(bot), clock).recover()
        assert report.unknown == 1
        status = {r.id: r.status for r in await outbox(rt.sessionmaker)}
        assert status == {answered: "sent", silent: "unknown"}


async def test_the_application_bot_is_bypassed_for_nudges(peer: BotApiPeer) -> None:
    """Nudges skip the channel's rate limiter (no waiting, no retrying once marked sending),
    on the same token, server and connections."""
    base_url, file_url = api_base_urls(peer.base_url)
    app_bot: ExtBot[None] = ExtBot(
        TOKEN,
        base_url=base_url,
        base_file_url=file_url,
        request=HTTPXRequest(),
        rate_limiter=AIORateLimiter(),
    )
    await app_bot.initialize()
    try:
        sender = TelegramNudgeSender(app_bot)
        assert sender.bot is not app_bot and not isinstance(sender.bot, ExtBot)
        assert sender.bot.base_url == app_bot.base_url and sender.bot.request is app_bot.request
        peer.user(7400)
        reply = Reply("nudge.hello", "Hello 👋", (Button("nudge:1:y", "Yes"),), seq=0)
        message_id = await sender.send_nudge(7400, reply)
        (sent,) = peer.sent(7400)
        assert sent["message_id"] == message_id
        assert [b["callback_data"] for b in peer.buttons(sent)] == ["0:nudge:1:y"]
        plain = Bot(TOKEN, base_url=base_url, request=HTTPXRequest())
        assert TelegramNudgeSender(plain).bot is plain
    finally:
        await app_bot.shutdown()


def test_nudge_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """SKILLSPARK_NUDGE_* are settings with the documented defaults; bad values stop the start."""
    from pydantic import ValidationError

    from bot.nudges.prefs import NudgeDefaults
    from bot.settings import Settings

    defaults = NudgeDefaults.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    assert defaults == NudgeDefaults()
    monkeypatch.setenv("SKILLSPARK_NUDGE_TIME", "10:30")
    monkeypatch.setenv("SKILLSPARK_NUDGE_QUIET_START", "21:00")
    monkeypatch.setenv("SKILLSPARK_NUDGE_TIMEZONE", "Europe/Dublin")
    monkeypatch.setenv("SKILLSPARK_NUDGE_PLAN_PER_SWEEP", "0")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.nudge_plan_per_sweep == 0
    chosen = NudgeDefaults.from_settings(settings)
    assert (chosen.time_minutes, chosen.quiet_start, chosen.timezone) == (
        630,
        1260,
        "Europe/Dublin",
    )
    for name, value in (
        ("SKILLSPARK_NUDGE_TIME", "25:00"),
        ("SKILLSPARK_NUDGE_TIMEZONE", "Mars/Olympus"),
        ("SKILLSPARK_NUDGE_RATE", "40"),
    ):
        with monkeypatch.context() as patch:
            patch.setenv(name, value)
            with pytest.raises(ValidationError, match=name):
                Settings(_env_file=None)  # type: ignore[call-arg]
