"""A :class:`~bot.nudges.sender.NudgeSender` for python-telegram-bot (the Telegram channel's).

Kept apart from the rest of the package so nothing else imports ``telegram``.

Nudges go to the Bot API directly, on the application's own HTTP connections
but not through its rate limiter: the nudge sweep paces nudges itself (28 a
second by default, 1 a second per chat, obeying 429), and the limiter would
add two things a nudge must not have once it is marked ``sending``: waiting
(the nudge is then "maybe sent" if the process dies meanwhile) and retrying
after a network error (a retry after a lost answer could deliver it twice).

A member who has read aloud on gets the nudge's voice note after it (a
``voice`` callable, the channel's: the same notes, cache and file ids as the
conversation), a second later (Telegram's pace of 1 message a second a chat),
in the background: the nudge is sent once its text is, whatever the note does.

Errors are sorted by whether the request can have reached Telegram:

* no connection could be made (connect error or timeout, no free connection):
  certainly not sent, tried again later;
* anything after the request may have been written (a read timeout, a
  dropped connection, a 5xx answer): :class:`~bot.nudges.sender.MaybeSent`,
  recorded as ``unknown`` and never resent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from telegram import Bot
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import ExtBot

from bot.nudges.sender import Blocked, MaybeSent, RetryLater, Undeliverable
from bot.telegram.render import keyboard
from bot.types import Reply

log = logging.getLogger(__name__)

#: Sends the voice note of a reply to a chat (``TelegramChannel.send_voice_of``).
VoiceOf = Callable[[int, Reply], Awaitable[None]]
#: Seconds between a nudge and its voice note (1 message a second a chat).
VOICE_AFTER_S = 1.0

#: Bad requests that mean the member cannot be reached at all (treated like 403).
GONE = ("chat not found", "user is deactivated", "bot was blocked", "peer_id_invalid")
#: Transport errors raised before any byte of the request left this process.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class NotSent(Exception):
    """The request never left this process (no connection): safe to try again."""


def direct_bot(bot: Bot) -> Bot:
    """``bot`` itself, or, for an application bot with a rate limiter, a plain bot on the
    same token, Bot API server and HTTP connections (never initialised or shut down
    here: the application owns the connections)."""
    if not isinstance(bot, ExtBot) or bot.rate_limiter is None:
        return bot
    base_url, file_url = bot.base_url, bot.base_file_url
    return Bot(
        bot.token,
        base_url=lambda _token: base_url,
        base_file_url=lambda _token: file_url,
        request=bot.request,
        get_updates_request=bot.request,
    )


class TelegramNudgeSender:
    """Sends nudges with inline buttons whose callback data is ``"0:" + choice``."""

    def __init__(self, bot: Bot, voice: VoiceOf | None = None) -> None:
        """Send through ``bot`` (the application's: see :func:`direct_bot`); notes by ``voice``."""
        self.bot = direct_bot(bot)
        self.voice = voice
        self._voices: set[asyncio.Task[None]] = set()

    def _voice_later(self, chat_id: int, reply: Reply) -> None:
        """Send the reply's voice note in the background, after the text."""

        async def send() -> None:
            assert self.voice is not None
            await asyncio.sleep(VOICE_AFTER_S)
            try:
                await self.voice(chat_id, reply)
            except Exception as exc:  # the note is a help: the nudge is already there
                log.warning("voice note of a nudge to chat %d not sent: %s", chat_id, exc)

        task = asyncio.create_task(send())
        self._voices.add(task)
        task.add_done_callback(self._voices.discard)

    async def send_nudge(self, chat_id: int, reply: Reply) -> int | None:
        """Send one nudge; map Telegram's answers onto the sweep's exceptions."""
        markup = keyboard(reply.buttons, 0)
        try:
            message = await self.bot.send_message(chat_id, reply.text, reply_markup=markup)
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            raise RetryLater(seconds) from exc
        except Forbidden as exc:
            raise Blocked(str(exc)) from exc
        except BadRequest as exc:
            if any(text in exc.message.lower() for text in GONE):
                raise Blocked(exc.message) from exc
            raise Undeliverable(exc.message) from exc
        except InvalidToken as exc:  # refused before anything was done
            raise NotSent(str(exc)) from exc
        except NetworkError as exc:  # TimedOut too
            if isinstance(exc.__cause__, NOT_SENT):
                raise NotSent(f"{type(exc.__cause__).__name__}: {exc}") from exc
            raise MaybeSent(f"{type(exc.__cause__ or exc).__name__}: {exc}") from exc
        if reply.voice and self.voice is not None:
            self._voice_later(chat_id, reply)
        return message.message_id
