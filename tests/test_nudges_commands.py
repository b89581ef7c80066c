"""Typed ``/nudges off`` and ``/nudges on`` reach the nudge settings, in Telegram and the terminal.

Telegram: the real channel (python-telegram-bot application, routing, engine)
against the loopback Bot API peer. Terminal: the real terminal chat's parsing.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import Runtime
from bot.console import ConsoleChat
from bot.settings import Settings
from bot.telegram.app import build_application, content_texts, serve, start_bot
from bot.telegram.channel import TelegramChannel
from bot.telegram.limiter import PacedRateLimiter
from bot.telegram.routing import route_update
from bot.types import Incoming, MemberKey
from storage.models import Member
from storage.models_nudges import NudgePrefs
from tests.botapi_peer import TOKEN, BotApiPeer
from tests.chat import Chat
from tests.conftest import Database
from tests.test_nudges_support import nudge_runtime

ANA = 4301


@pytest.fixture
def peer() -> Iterator[BotApiPeer]:
    """A running Bot API peer."""
    with BotApiPeer() as running:
        yield running


@asynccontextmanager
async def on_telegram(rt: Runtime, peer: BotApiPeer) -> AsyncIterator[TelegramChannel]:
    """The bot's Telegram channel on the runtime's engine, polling the peer until the end."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=peer.base_url
    )
    channel = TelegramChannel(rt.engine, content_texts(rt.content))
    app = build_application(
        settings, channel, rate_limiter=PacedRateLimiter(chat_rate=100, backoff_s=0.01)
    )
    stop = asyncio.Event()
    assert await start_bot(app, stop)
    task = asyncio.create_task(serve(app, channel, settings, stop, []))
    try:
        yield channel
    finally:
        stop.set()
        await task
        await app.shutdown()


async def nudges_enabled(rt: Runtime) -> bool | None:
    """The member's nudge setting (``None``: no preferences yet)."""
    async with rt.sessionmaker() as session:
        return (await session.execute(select(NudgePrefs.enabled))).scalar_one_or_none()


def test_telegram_routing_keeps_the_words_after_nudges() -> None:
    """``/nudges off`` reaches the engine as ``nudges off``; other commands drop their words."""
    from telegram import Update

    def routed(text: str) -> Incoming | None:
        user = {"id": ANA, "is_bot": False, "first_name": "Ana"}
        chat = {"id": ANA, "type": "private", "first_name": "Ana"}
        message = {"message_id": 1, "date": 1, "chat": chat, "from": user, "text": text}
        route = route_update(Update.de_json({"update_id": 1, "message": message}, None))
        return getattr(route, "incoming", None)

    assert routed("/nudges off") == Incoming("command", "nudges off")
    assert routed("/Nudges@SkillSparkTestBot   ON ") == Incoming("command", "nudges on")
    assert routed("/nudges") == Incoming("command", "nudges")
    assert routed("/start abc123") == Incoming("command", "start")


async def test_typed_nudges_off_and_on_in_telegram(
    database: Database, tmp_path: Path, peer: BotApiPeer
) -> None:
    """A member types /nudges off, then /nudges on, in Telegram: the setting follows."""
    async with nudge_runtime(database, tmp_path) as rt:
        member = Chat(rt.engine, str(ANA), channel="telegram")
        await member.onboard("Ana")
        ana = peer.user(ANA, "Ana")
        async with on_telegram(rt, peer):
            since = peer.mark()
            peer.text(ana, "/nudges off")
            await asyncio.to_thread(peer.wait_text, ANA, "things to do", since)
            assert await nudges_enabled(rt) is False

            since = peer.mark()
            peer.text(ana, "/nudges on")
            await asyncio.to_thread(peer.wait_text, ANA, "things to do", since)
            assert await nudges_enabled(rt) is True


async def test_typed_nudges_off_and_on_in_the_terminal(sqlite_db: Database, tmp_path: Path) -> None:
    """The terminal chat passes /nudges off and /nudges on to the engine with their words."""
    async with nudge_runtime(sqlite_db, tmp_path) as rt:
        out = io.StringIO()
        chat = ConsoleChat(rt.engine, MemberKey("local", "t9"), out, interactive=False)
        await chat.send(Incoming("command", "start"))
        await chat.send(Incoming("button", "read_myself", chat.seq))
        await chat.send(chat.to_incoming("Kim\n"))
        await chat.send(Incoming("button", "yes", chat.seq))
        async with rt.sessionmaker() as session:
            assert (await session.execute(select(Member.consent))).scalar_one() is True

        assert chat.to_incoming("/nudges off\n") == Incoming("command", "nudges off")
        await chat.send(chat.to_incoming("/nudges off\n"))
        assert await nudges_enabled(rt) is False
        await chat.send(chat.to_incoming("/Nudges  ON\n"))
        assert await nudges_enabled(rt) is True
        assert chat.to_incoming("/help me\n") == Incoming("command", "help")
