"""Pacing for nudges: at most ``rate`` a second overall and 1 a second per chat.

Two steps, because a slot taken early may be used late (a slow database commit):

* :meth:`Pacer.wait` (before a nudge is taken up) spaces nudges evenly, 1/rate
  apart, and 1 second apart per chat; a few slots missed during a short stall
  may be caught up (``burst``), so the average rate holds;
* :meth:`Pacer.before_call` (just before the Telegram call) makes sure no more
  than ``int(rate)`` calls start in any 1-second window, whatever happened in
  between.

Telegram's "retry after" (429) pauses both until the time it names. The clock
and the sleep are injectable so tests never wait for real time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
MIN_SLEEP = 0.001


class Pacer:
    """Spaces sends evenly: ``rate`` per second overall, ``per_chat`` seconds apart per chat."""

    def __init__(
        self,
        rate: float = 30.0,
        *,
        per_chat: float = 1.0,
        burst: int = 3,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Set the limits; ``clock`` and ``sleep`` may be fakes in tests."""
        if rate <= 0:
            raise ValueError("rate must be above 0")
        self.interval = 1.0 / rate
        self.per_chat = per_chat
        self.burst = burst
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        self._paused_until = 0.0
        self._chat_next: dict[int, float] = {}
        self._calls: deque[float] = deque(maxlen=max(1, int(rate)))

    async def wait(self, chat_id: int) -> None:
        """Wait for this chat's turn and an overall slot; the slot is then taken."""
        while True:
            now = self.clock()
            ready = max(self._chat_next.get(chat_id, 0.0), self._paused_until)
            if ready > now:
                await self._nap(ready - now)
                continue
            slot = max(self._next, now - self.burst * self.interval)
            self._next = slot + self.interval
            self._chat_next[chat_id] = max(slot, now) + self.per_chat
            if slot > now:
                await self._nap(slot - now)
            if self._paused_until > self.clock():
                continue  # a 429 came in while we waited: wait for it too
            self._forget_idle_chats()
            return

    async def before_call(self) -> None:
        """Right before a call: wait out a 429 pause and keep any 1 second within the rate."""
        while True:
            now = self.clock()
            if self._paused_until > now:
                await self._nap(self._paused_until - now)
                continue
            calls = self._calls
            if len(calls) == calls.maxlen and now - calls[0] < 1.0:
                await self._nap(1.0 - (now - calls[0]))
                continue
            calls.append(now)
            return

    async def wait_pause(self) -> None:
        """Wait until a 429 pause is over."""
        while (left := self._paused_until - self.clock()) > 0:
            await self._nap(left)

    async def _nap(self, seconds: float) -> None:
        """Sleep at least a millisecond (a clock may not show smaller steps)."""
        await self.sleep(max(seconds, MIN_SLEEP))

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
