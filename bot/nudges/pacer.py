"""Pacing for nudges: at most ``rate`` a second overall and 1 a second per chat.

The clock and the sleep are injectable so tests never wait for real time.
Telegram's "retry after" (429) pauses every send until the time it names.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Pacer:
    """Spaces sends evenly: ``rate`` per second overall, ``per_chat`` seconds apart per chat."""

    def __init__(
        self,
        rate: float = 30.0,
        *,
        per_chat: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Set the limits; ``clock`` and ``sleep`` may be fakes in tests."""
        if rate <= 0:
            raise ValueError("rate must be above 0")
        self.interval = 1.0 / rate
        self.per_chat = per_chat
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        self._paused_until = 0.0
        self._chat_next: dict[int, float] = {}

    async def wait(self, chat_id: int) -> None:
        """Wait for this chat's turn and an overall slot; the slot is then taken."""
        while True:
            now = self.clock()
            ready = max(self._chat_next.get(chat_id, 0.0), self._paused_until)
            if ready > now:
                await self.sleep(ready - now)
                continue
            slot = max(now, self._next)
            self._next = slot + self.interval
            self._chat_next[chat_id] = slot + self.per_chat
            if slot > now:
                await self.sleep(slot - now)
            if self._paused_until > self.clock():
                continue  # a 429 came in while we waited: wait for it too
            self._forget_idle_chats()
            return

    async def wait_pause(self) -> None:
        """Wait until a 429 pause is over (right before a call goes out)."""
        while (left := self._paused_until - self.clock()) > 0:
            await self.sleep(left)

    def pause(self, seconds: float) -> None:
        """Stop every send for ``seconds`` (Telegram's retry_after)."""
        self._paused_until = max(self._paused_until, self.clock() + max(0.0, seconds))

    @property
    def paused_for(self) -> float:
        """Seconds left of a pause (0 when not paused)."""
        return max(0.0, self._paused_until - self.clock())

    def _forget_idle_chats(self) -> None:
        """Drop chats whose pause is over (keeps memory small)."""
        if len(self._chat_next) < 4096:
            return
        now = self.clock()
        self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
