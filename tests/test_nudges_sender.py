"""The send sweep against a real HTTP Bot API peer: once each, 429 obeyed, 403 never retried.

The Bot API side is the loopback peer (``tests/botapi_peer.py``) and the sender is
the real python-telegram-bot one; only the clock is fake, so nothing waits 30 a
second for real.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.app import Runtime
from bot.easyread import pictures
from bot.nudges.ptb import TelegramNudgeSender
from bot.nudges.sender import NudgeService, RetryLater, SendReport
from bot.speech import Speech
from bot.telegram.channel import TelegramChannel
from bot.types import HEAR_SHOWN, Reply
from storage.db import make_engine, make_sessionmaker
from storage.models import Member
from storage.models_nudges import NudgeOutbox, NudgePrefs
from tests.botapi_peer import BotApiPeer
from tests.conftest import Database
from tests.test_nudges_support import (
    WINTER,
    FakeClock,
    add_member,
    add_opportunity,
    due_nudge,
    fast_service,
    nudge_ids,
    nudge_runtime,
    outbox,
    peer_bot,
    peer_sender,
    planner_for,
    seed_due_nudges,
)
from tests.test_speech_telegram import decoded_seconds, needs_espeak


@pytest.fixture
def peer() -> Iterator[BotApiPeer]:
    """A running Bot API peer."""
    with BotApiPeer() as running:
        yield running


async def seed(rt: Runtime, peer: BotApiPeer, count: int) -> list[int]:
    """``count`` members, each with one nudge due now (ids from 7000); the nudge ids."""
    return await seed_due_nudges(rt, peer, count, first_id=7000)


async def test_nudge_arrives_with_buttons_that_come_back(
    database: Database, tmp_path: Path, peer: BotApiPeer
) -> None:
    """The member gets one message with 3 buttons; tapping one reaches the engine's extension."""
    clock = FakeClock()
    async with nudge_runtime(database, tmp_path, clock) as rt, peer_bot(peer) as bot:
        (nudge,) = await seed(rt, peer, 1)
        report = await fast_service(rt, peer_sender(bot), clock).drain()
        assert report.sent == 1
        (message,) = peer.sent(7000)
        assert "Garden day" in message["text"]
        data = [b["callback_data"] for b in peer.buttons(message)]
        answers = [f"0:nudge:{nudge}:y", f"0:nudge:{nudge}:l", f"0:nudge:{nudge}:n"]
        assert data == [*answers, f"0:{HEAR_SHOWN}"]
        (row,) = await outbox(rt.sessionmaker)
        assert row.status == "sent" and row.message_id == message["message_id"]


async def test_restart_loses_nothing_and_sends_nothing_twice(
    database: Database, tmp_path: Path, peer: BotApiPeer
) -> None:
    """A sender dies after claiming a batch; the next one sends the rest, each once."""
    clock = FakeClock()
    async with nudge_runtime(database, tmp_path, clock) as rt, peer_bot(peer) as bot:
        ids = await seed(rt, peer, 12)
        first = fast_service(rt, peer_sender(bot), clock, worker="host-a:1:aa", batch=8)
        claimed = await first.claim(8)
        assert len(claimed) == 8
        first_report = SendReport()
        for row in claimed[:3]:  # it sends 3, then the power goes
            await first._attempt(row, first_report)
        del first

        second = fast_service(rt, peer_sender(bot), clock, worker="host-b:2:bb")
        report = await second.drain()
        assert report.sent == 4  # the 4 never claimed; the 5 claimed but untried wait
        clock.advance(seconds=31)  # the dead sender's lease runs out
        report = await second.drain()
        assert report.released == 5 and report.sent == 5
        sent = Counter(nudge_ids(peer))
        assert sorted(sent) == sorted(ids)
        assert set(sent.values()) == {1}
        assert {r.status for r in await outbox(rt.sessionmaker)} == {"sent"}
        assert first_report.sent == 3


async def test_a_call_on_the_wire_at_a_crash_is_never_resent(
    sqlite_db: Database, tmp_path: Path, peer: BotApiPeer
) -> None:
    """``sending`` is stored before the call; a sender dying then never causes a second send."""
    clock = FakeClock()
    async with nudge_runtime(sqlite_db, tmp_path, clock) as rt, peer_bot(peer) as bot:
        (nudge,) = await seed(rt, peer, 1)
        first = fast_service(rt, peer_sender(bot), clock, worker="host-a:1:aa")
        peer.hold("sendMessage")
        task = asyncio.create_task(first.drain())
        await asyncio.to_thread(peer.wait_for, lambda: peer.held_calls("sendMessage") == 1, 10)
        (row,) = await outbox(rt.sessionmaker)
        assert row.status == "sending"  # committed before Telegram was called
        task.cancel()  # the sender dies mid-call
        peer.release("sendMessage")
        await asyncio.to_thread(peer.wait_for, lambda: peer.calls_of("sendMessage"), 10)

        clock.advance(seconds=31)
        second = fast_service(rt, peer_sender(bot), clock, worker="host-b:2:bb")
        report = await second.drain()
        assert report.unknown == 1 and report.sent == 0
        assert nudge_ids(peer) == [nudge]
        (row,) = await outbox(rt.sessionmaker)
        assert row.status == "unknown"


class TimedSender:
    """The real Telegram sender, noting the fake time of each call and its outcome."""

    def __init__(self, inner: TelegramNudgeSender, clock: FakeClock) -> None:
        """Wrap ``inner``."""
        self.inner, self.clock = inner, clock
        self.calls: list[tuple[float, str]] = []

    async def send_nudge(self, chat_id: int, reply: Reply) -> int | None:
        """Send, and note when and how it went."""
        at = self.clock.monotonic()
        try:
            result = await self.inner.send_nudge(chat_id, reply)
        except RetryLater:
            self.calls.append((at, "429"))
            raise
        self.calls.append((at, "ok"))
        return result


async def test_429_retry_after_is_obeyed(
    database: Database, tmp_path: Path, peer: BotApiPeer
) -> None:
    """Telegram says "retry after 7": no call goes out for 7 seconds, then each nudge once."""
    clock = FakeClock()
    async with nudge_runtime(database, tmp_path, clock) as rt, peer_bot(peer) as bot:
        ids = await seed(rt, peer, 3)
        peer.fail(
            "sendMessage", status=429, description="Too Many Requests: retry after 7", retry_after=7
        )
        sender = TimedSender(peer_sender(bot), clock)
        report = await fast_service(rt, sender, clock, concurrency=1).drain()
        assert report.rate_limited == 1 and report.sent == 3
        outcomes = [outcome for _, outcome in sender.calls]
        assert outcomes == ["429", "ok", "ok", "ok"]
        refused_at = sender.calls[0][0]
        assert all(at >= refused_at + 7 for at, _ in sender.calls[1:])
        assert Counter(nudge_ids(peer)) == Counter(ids)


async def test_403_blocked_member_is_marked_and_never_retried(
    database: Database, tmp_path: Path, peer: BotApiPeer
) -> None:
    """403: the nudge is not retried, the member's waiting nudges are dropped and none planned."""
    clock = FakeClock()
    async with nudge_runtime(database, tmp_path, clock) as rt, peer_bot(peer) as bot:
        async with rt.sessionmaker.begin() as session:
            opp = await add_opportunity(session, "Garden day", "gardening")
            other = await add_opportunity(session, "Plant sale", "gardening")
            member = await add_member(
                session, 7100, skills=[("growing_plants", "gardening")], prefs={}
            )
            peer.user(7100)
            await due_nudge(session, member, opp)
            await due_nudge(session, member, other, due_at=WINTER + timedelta(hours=1))
        peer.fail("sendMessage", status=403, description="Forbidden: bot was blocked by the user")
        service = fast_service(rt, peer_sender(bot), clock)
        assert (await service.drain()).blocked == 1
        clock.advance(hours=2)
        assert (await service.drain()).sent == 0
        assert [r.status for r in await outbox(rt.sessionmaker)] == ["blocked", "cancelled"]
        async with rt.sessionmaker() as session:
            prefs = await session.get(NudgePrefs, member.id)
        assert prefs is not None and prefs.blocked_at is not None
        clock.advance(days=8)
        assert (await planner_for(rt).sweep(clock.now())).due == 0
        assert len([c for c in peer.calls if c.method == "sendMessage"]) == 1

        # They write to the bot again: nudges may start again.
        async with rt.sessionmaker.begin() as session:
            await session.execute(
                update(Member).where(Member.id == member.id).values(last_active_at=clock.now())
            )
        async with rt.sessionmaker.begin() as session:
            await session.execute(
                update(NudgePrefs).values(next_due_at=clock.now() - timedelta(minutes=1))
            )
        assert (await planner_for(rt).sweep(clock.now())).due == 1


async def test_quiet_hours_hold_a_late_nudge_until_morning(
    sqlite_db: Database, tmp_path: Path, peer: BotApiPeer
) -> None:
    """A nudge claimed at 20:30 local is not sent; it waits for the member's next good time."""
    clock = FakeClock(WINTER.replace(hour=20, minute=30))
    async with nudge_runtime(sqlite_db, tmp_path, clock) as rt, peer_bot(peer) as bot:
        async with rt.sessionmaker.begin() as session:
            opp = await add_opportunity(session, "Garden day", "gardening")
            member = await add_member(session, 7200, prefs={})
            peer.user(7200)
            await due_nudge(session, member, opp, due_at=WINTER.replace(hour=11), send_before=None)
        service = fast_service(rt, peer_sender(bot), clock)
        report = await service.drain()
        assert report.deferred == 1 and report.sent == 0
        (row,) = await outbox(rt.sessionmaker)
        assert row.status == "pending"
        assert row.due_at.replace(tzinfo=None) == WINTER.replace(hour=11, tzinfo=None) + timedelta(
            days=1
        )
        assert peer.calls_of("sendMessage") == []


async def test_two_senders_at_once_send_each_nudge_once(
    database: Database, tmp_path: Path, peer: BotApiPeer
) -> None:
    """Two sweeps with their own connections drain one outbox: every nudge goes exactly once."""
    clock = FakeClock()
    async with nudge_runtime(database, tmp_path, clock) as rt, peer_bot(peer) as bot:
        ids = await seed(rt, peer, 120)
        engine_b = make_engine(database.url, schema=database.schema)
        try:
            a = fast_service(rt, peer_sender(bot), clock, worker="host:1:a", batch=10)
            b = NudgeService(
                make_sessionmaker(engine_b),
                rt.content,
                peer_sender(bot),
                pacer=a.pacer,
                worker="host:2:b",
                batch=10,
                now=clock.now,
            )
            reports = await asyncio.gather(a.drain(), b.drain())
        finally:
            await engine_b.dispose()
        assert sum(r.sent for r in reports) == 120
        sent = Counter(nudge_ids(peer))
        assert sorted(sent) == sorted(ids) and set(sent.values()) == {1}
        async with rt.sessionmaker() as session:
            claimed = await session.execute(select(NudgeOutbox.claimed_by).distinct())
            owners = set(claimed.scalars())
        assert owners <= {"host:1:a", "host:2:b"}


@needs_espeak
async def test_a_member_who_listens_hears_the_nudge_with_fewer_pictures_if_chosen(
    database: Database, tmp_path: Path, peer: BotApiPeer
) -> None:
    """Read aloud and fewer pictures hold for nudges too: the text, then its voice note."""
    clock = FakeClock()
    async with nudge_runtime(database, tmp_path, clock) as rt, peer_bot(peer) as bot:
        ids = await seed(rt, peer, 2)
        async with rt.sessionmaker.begin() as session:
            await session.execute(
                update(Member)
                .where(Member.telegram_id == 7000)
                .values(preferences={"read_aloud": True, "fewer_pictures": True})
            )
        speech = Speech(cache_dir=tmp_path / "speech", press="🔊 The buttons say:")
        channel = TelegramChannel(rt.engine, lambda key: key, speech=speech)
        sender = TelegramNudgeSender(
            bot, voice=lambda chat, reply: channel.send_voice_of(bot, chat, reply)
        )
        report = await fast_service(rt, sender, clock).drain()
        assert report.sent == len(ids)
        # the texts (the listener's voice note follows a second later, on its own)
        (listener,) = [m for m in peer.sent(7000) if "text" in m]
        (reader,) = peer.sent(7001)
        assert len(pictures(listener["text"])) == 1 and len(pictures(reader["text"])) > 1
        assert all(not pictures(b["text"]) for b in peer.buttons(listener))
        (ogg,) = await asyncio.to_thread(
            peer.wait_for, lambda: peer.voices(7000) or None, 30, "the nudge's voice note"
        )
        assert decoded_seconds(ogg) > 2.0  # the nudge's words, read out
        assert peer.voices(7001) == []  # who reads gets text only
        speech.close()
