"""Telegram's sending limits, measured on the wire: the real PTB application and
:class:`~bot.telegram.limiter.PacedRateLimiter` at its defaults (1 message a second
into one private chat, 30 a second overall) against the loopback Bot API peer.

The other channel tests run with ``chat_rate=100`` so they need not wait; these
tests put the defaults back and look at when each call reached the peer.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import pytest

import tests.test_telegram_channel as channel_tests
from bot.telegram.limiter import PacedRateLimiter
from bot.types import Reply
from tests.botapi_peer import ApiCall, BotApiPeer
from tests.test_telegram_channel import ScriptedEngine, running_bot, until

#: Telegram's limits, as its bot FAQ gives them.
CHAT_GAP_S = 1.0
OVERALL_PER_S = 30
#: Timer slack: a call may be recorded a little early or late.
TOLERANCE_S = 0.1


@pytest.fixture
def peer() -> Iterator[BotApiPeer]:
    """A running Bot API peer."""
    with BotApiPeer() as running:
        yield running


@pytest.fixture
def engine() -> ScriptedEngine:
    """A fresh stand-in engine."""
    return ScriptedEngine()


@pytest.fixture
def default_limiter(monkeypatch: pytest.MonkeyPatch) -> list[PacedRateLimiter]:
    """Make ``running_bot`` use a PacedRateLimiter at its defaults; the ones made, in order."""
    made: list[PacedRateLimiter] = []

    def at_defaults(**_ignored: object) -> PacedRateLimiter:
        made.append(PacedRateLimiter())
        return made[-1]

    monkeypatch.setattr(channel_tests, "PacedRateLimiter", at_defaults)
    return made


def busiest_second(calls: list[ApiCall]) -> int:
    """The most calls recorded in any 1-second window."""
    times = sorted(c.at for c in calls)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0 - TOLERANCE_S:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_replies_to_one_chat_come_one_a_second(
    peer: BotApiPeer, engine: ScriptedEngine, default_limiter: list[PacedRateLimiter]
) -> None:
    ana = peer.user(4301, "Ana")
    engine.replies_for["tell me"] = [Reply(f"r{i}", f"Part {i} 🙂.") for i in range(3)]
    async with running_bot(peer, engine):
        peer.text(ana, "tell me")
        sent = await until(peer.wait_sent, 4301, 3, timeout=10)
    assert len(default_limiter) == 1
    assert [m["text"] for m in sent] == ["Part 0 🙂.", "Part 1 🙂.", "Part 2 🙂."]
    times = [c.at for c in peer.calls_of("sendMessage", 4301)]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert len(gaps) == 2
    assert min(gaps) >= CHAT_GAP_S - TOLERANCE_S, gaps


async def test_replies_to_forty_chats_at_once_stay_under_30_a_second(
    peer: BotApiPeer, engine: ScriptedEngine, default_limiter: list[PacedRateLimiter]
) -> None:
    chats = list(range(5001, 5041))
    members = [peer.user(chat, f"Member{chat}") for chat in chats]
    engine.replies_for["hello"] = [Reply("hi", "Hello 👋")]
    async with running_bot(peer, engine):
        for member in members:
            peer.text(member, "hello")
        await until(
            peer.wait_for,
            lambda: len(peer.calls_of("sendMessage")) >= len(chats) or None,
            10,
            "a reply in every chat",
        )
    assert len(default_limiter) == 1
    sent = peer.calls_of("sendMessage")
    assert sorted(c.params["chat_id"] for c in sent) == chats  # every chat got its one reply
    assert busiest_second(sent) <= OVERALL_PER_S
