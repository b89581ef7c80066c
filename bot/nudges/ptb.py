"""A :class:`~bot.nudges.sender.NudgeSender` for python-telegram-bot (the Telegram channel's).

Kept apart from the rest of the package so nothing else imports ``telegram``.
Give it the running application's bot (``app.bot``), which already paces every
Bot API call; the nudge sweep paces nudges on top of that.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import Bot
from telegram.error import BadRequest, Forbidden, RetryAfter

from bot.nudges.sender import Blocked, RetryLater, Undeliverable
from bot.telegram.render import keyboard
from bot.types import Reply

#: Bad requests that mean the member cannot be reached at all (treated like 403).
GONE = ("chat not found", "user is deactivated", "bot was blocked", "peer_id_invalid")


class TelegramNudgeSender:
    """Sends nudges with inline buttons whose callback data is ``"0:" + choice``."""

    def __init__(self, bot: Bot) -> None:
        """Send through ``bot``."""
        self.bot = bot

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
        return message.message_id
