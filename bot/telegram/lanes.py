"""Run work in order per key (one chat) and in parallel across keys."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Lanes:
    """One queue per key: jobs with the same key run one after another, in submit order.

    Jobs with different keys run at the same time (up to ``limit`` at once). A job
    that fails does not stop the jobs queued behind it.
    """

    def __init__(self, limit: int = 64) -> None:
        """Allow at most ``limit`` jobs to run at the same moment."""
        self._tails: dict[Hashable, asyncio.Task[object]] = {}
        self._running = asyncio.Semaphore(limit)
        self._all: set[asyncio.Task[object]] = set()

    def submit(self, key: Hashable, job: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        """Queue ``job`` behind earlier jobs with the same key; returns its task."""
        previous = self._tails.get(key)
        task: asyncio.Task[T] = asyncio.create_task(self._run(previous, job))
        self._tails[key] = task
        self._all.add(task)
        task.add_done_callback(lambda done: self._forget(key, done))
        return task

    async def _run(
        self, previous: asyncio.Task[object] | None, job: Callable[[], Awaitable[T]]
    ) -> T:
        """Wait for the previous job of the lane (whatever its outcome), then run."""
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        async with self._running:
            return await job()

    def _forget(self, key: Hashable, task: asyncio.Task[T]) -> None:
        """Drop a finished task (logging its failure); the lane ends with its last task."""
        if not task.cancelled() and task.exception() is not None:
            log.error("a queued job failed", exc_info=task.exception())
        self._all.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]

    @property
    def busy(self) -> int:
        """How many jobs are queued or running."""
        return len(self._all)

    async def drain(self, within: float | None = None) -> bool:
        """Wait until every queued job is done; False when ``within`` seconds ran out first.

        Jobs queued while waiting are waited for too, within the same time.
        """
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        while self._all:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            _, pending = await asyncio.wait(set(self._all), timeout=left)
            if pending:
                return False
        return True

    async def cancel(self, within: float = 5.0) -> int:
        """Stop every queued and running job (and jobs they queue); how many were stopped.

        Gives up after ``within`` seconds on a job that will not stop (it ignores
        being cancelled), so a stop never hangs on one.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        stopped: set[asyncio.Task[object]] = set()
        while self._all:
            pending = [task for task in self._all if not task.done()]
            for task in pending:
                task.cancel()
            stopped.update(pending)
            left = deadline - loop.time()
            if left <= 0:
                log.warning("%d queued jobs did not stop when asked", len(self._all))
                break
            await asyncio.wait(set(self._all), timeout=left)
        return len(stopped)
