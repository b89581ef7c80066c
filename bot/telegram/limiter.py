"""Pacing and retries for every Bot API call (except getUpdates, which PTB never limits)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import BadRequest, NetworkError
from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)

#: Methods that put a new message in a chat: these are paced per chat.
MESSAGE_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "sendSticker", "sendVoice"}
)
JSON = bool | dict[str, Any] | list[dict[str, Any]]


class PacedRateLimiter(AIORateLimiter):
    """AIORateLimiter plus a per-chat pace for private chats and retries on network errors.

    * 30 requests a second overall and 20 a minute per group (AIORateLimiter; its
      overall limit lets a burst of 30 through at once, then 30 a second).
    * New messages: at most ``overall_max_rate`` a second in any second, evenly
      spaced (Telegram's "30 messages a second"; the burst above could double it).
    * New messages into one private chat: ``chat_rate`` a second (Telegram asks for 1).
    * ``RetryAfter`` (429) waits as Telegram says, up to ``max_retries`` times.
    * Network errors and timeouts (not "bad request") are retried with back-off.
    """

    def __init__(
        self,
        *,
        overall_max_rate: float = 30,
        chat_rate: float = 1.0,
        max_retries: int = 3,
        network_retries: int = 4,
        backoff_s: float = 0.5,
        sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep,
    ) -> None:
        """Set the limits; ``sleep`` is replaceable so tests need not wait."""
        super().__init__(overall_max_rate=overall_max_rate, max_retries=max_retries)
        self._chat_rate = chat_rate
        self._chat_limiters: dict[int, AsyncLimiter] = {}
        self._messages = AsyncLimiter(max_rate=1, time_period=1 / overall_max_rate)
        self._network_retries = network_retries
        self._backoff_s = backoff_s
        self._sleep = sleep

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        """The pace keeper for one private chat (idle ones are forgotten)."""
        if len(self._chat_limiters) > 4096:
            for key, limiter in list(self._chat_limiters.items()):
                if key != chat_id and limiter.has_capacity(limiter.max_rate):
                    del self._chat_limiters[key]
        if chat_id not in self._chat_limiters:
            self._chat_limiters[chat_id] = AsyncLimiter(max_rate=1, time_period=1 / self._chat_rate)
        return self._chat_limiters[chat_id]

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSON]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSON:
        """Pace the request, send it, retry on network trouble."""
        pace: contextlib.AbstractAsyncContextManager[Any] = contextlib.nullcontext()
        chat_id = data.get("chat_id")
        if endpoint in MESSAGE_METHODS and self._chat_rate > 0:
            with contextlib.suppress(TypeError, ValueError):
                if int(chat_id) > 0:  # type: ignore[arg-type]
                    pace = self._chat_limiter(int(chat_id))  # type: ignore[arg-type]
        spacing: contextlib.AbstractAsyncContextManager[Any] = contextlib.nullcontext()
        if endpoint in MESSAGE_METHODS:
            spacing = self._messages
        async with pace, spacing:
            attempt = 0
            while True:
                try:
                    return await super().process_request(
                        callback, args, kwargs, endpoint, data, rate_limit_args
                    )
                except BadRequest:
                    raise
                except NetworkError as exc:
                    if attempt >= self._network_retries:
                        raise
                    delay = self._backoff_s * (2**attempt)
                    attempt += 1
                    log.warning(
                        "Bot API %s failed (%s); retry %d in %.1f s",
                        endpoint,
                        type(exc).__name__,
                        attempt,
                        delay,
                    )
                    await self._sleep(delay)
