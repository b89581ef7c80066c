"""Received updates, from the moment they arrive until their replies are sent.

Every update is kept in the inbox (``storage/inbox.py``) before Telegram is
told it arrived, and leaves it once the engine has stored it and its replies
are sent. :class:`Intake` does the bookkeeping for one process:

* ``receive`` starts each new update *before* waiting for the inbox, so the
  chat's order is the order of arrival even when keeps finish out of order; the
  update's job waits for its keep (a :data:`Keep`) and gives up when the keep
  failed (Telegram then sends the update again).
* a copy of an update that is still being kept waits for that same keep, so a
  webhook retry is answered 200 only once the update is really kept;
* answered updates are deleted in batches (every ``gather_s`` at most, 500 ids
  a statement), retried a second later when the database is away;
* ``close`` (on stop) deletes what is answered; the rest stays for the next
  start, where ``replay`` starts it again (shared mode: it lets go of its chat
  leases, so another process starts the rest at once).

With a :class:`~storage.inbox.SharedInbox` (several processes on PostgreSQL,
webhook mode) an update is only kept on arrival; one sweep task per process
(:meth:`Intake._sweep_loop`) starts the updates of the chats it holds the lease
of, in update order, whichever process received them; renews those leases while
turns run; and drops a chat's lease in the transaction that forgets its answered
updates. A starting process takes only rows whose chat lease ran out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from storage.inbox import ChatRaw, Inbox, SharedInbox

log = logging.getLogger(__name__)

#: The inbox write an update waits for; ``None`` when it was kept before (replay).
Keep = asyncio.Future[None] | None
#: Starts one update: its id, its raw JSON object and the keep it must wait for.
Start = Callable[[int, dict[str, Any], Keep], None]

#: The chat of a raw update (its order key).
ChatOf = Callable[[dict[str, Any]], int]

_MISSING = object()
#: Ids per DELETE (well below every driver's limit on bound parameters).
FORGET_CHUNK = 500


class Intake:
    """The updates this process has received and not answered yet."""

    def __init__(
        self,
        inbox: Inbox,
        *,
        max_open: int = 2_000,
        gather_s: float = 0.05,
        chat_of: ChatOf | None = None,
        sweep_s: float = 0.5,
    ) -> None:
        """Keep updates in ``inbox``; at most ``max_open`` open before polling waits.

        A :class:`SharedInbox` (with ``chat_of``) shares the work with other
        processes; its inbox is swept every ``sweep_s`` seconds and at once
        when updates arrive.
        """
        self.inbox = inbox
        self.shared: SharedInbox | None = None
        if isinstance(inbox, SharedInbox):
            if chat_of is None:
                raise ValueError("a shared inbox needs chat_of")
            self.shared = inbox
        self.chat_of = chat_of
        self.sweep_s = sweep_s
        #: shared mode: the chat of each open update, and open updates per chat
        self._chat: dict[int, int] = {}
        self._per_chat: dict[int, int] = {}
        #: shared mode: answered and not forgotten yet; not answered, retried after a while
        self._forgetting: set[int] = set()
        self._retry_at: dict[int, float] = {}
        self._swept = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None
        self._db_lock = asyncio.Lock()
        #: updates started here that another process had taken before (it stopped or died)
        self.taken_over = 0
        self._done_chat: dict[int, int] = {}
        self._start_fn: Start = lambda *_: None
        self.max_open = max_open
        self.gather_s = gather_s
        self._open: dict[int, Keep] = {}
        self._answered: list[int] = []
        self._wanted = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        #: stopping: shared mode takes no more updates to start (the sweep still renews leases)
        self._stopping = False

    # ------------------------------------------------------------------ arriving

    async def receive(self, updates: Sequence[dict[str, Any]], start: Start) -> None:
        """Start the new updates, then wait until they (and copies in them) are kept.

        Raises when the inbox could not keep them: they must not be confirmed.
        """
        if self.shared is not None:
            await self._keep_shared(updates)
            return
        fresh: dict[int, dict[str, Any]] = {}
        waits: set[asyncio.Future[None]] = set()
        for data in updates:
            update_id = data.get("update_id")
            if not isinstance(update_id, int) or update_id in fresh:
                continue
            if update_id in self._open:
                keeping = self._open[update_id]
                if keeping is not None and not keeping.done():
                    waits.add(keeping)  # a copy: answer it when the first one is kept
                continue
            fresh[update_id] = data
        if fresh:
            rows = [(update_id, json.dumps(data)) for update_id, data in fresh.items()]
            keeping = asyncio.ensure_future(self.inbox.keep(rows))
            ids = list(fresh)
            for update_id in ids:
                self._open[update_id] = keeping
            keeping.add_done_callback(lambda done: self._after_keep(done, ids))
            for update_id, data in fresh.items():
                start(update_id, data, keeping)
            waits.add(keeping)
        self._check_room()
        if waits:
            await asyncio.gather(*(asyncio.shield(w) for w in waits))

    async def _keep_shared(self, updates: Sequence[dict[str, Any]]) -> None:
        """Shared mode: keep the new updates with their chats; the sweep starts them."""
        assert self.shared is not None and self.chat_of is not None
        rows: dict[int, ChatRaw] = {}
        for data in updates:
            update_id = data.get("update_id")
            if not isinstance(update_id, int) or update_id in self._open:
                continue
            rows.setdefault(update_id, (update_id, json.dumps(data), self.chat_of(data)))
        if rows:
            await self.shared.keep_rows(list(rows.values()))
            self._swept.set()

    async def replay(self, start: Start) -> int:
        """Start what the inbox kept from an earlier run; returns how many.

        Shared mode: start the sweep; only updates of chats no live process
        holds are taken (the count is of those taken over from a stopped one).
        """
        if self.shared is not None:
            if self._sweeper is None:
                self._start_fn = start
                try:
                    await self.sweep()
                except Exception as exc:  # the sweep loop tries again shortly
                    log.warning("could not sweep the inbox at start (%s); trying again", exc)
                self._sweeper = asyncio.create_task(self._sweep_loop())
            return self.taken_over
        started = 0
        for update_id, body in await self.inbox.waiting():
            if update_id in self._open:
                continue
            self._open[update_id] = None
            try:
                data = json.loads(body)
                if not isinstance(data, dict):
                    raise ValueError("not an object")
            except ValueError:
                log.error("update %d in the inbox is not a JSON object; dropped", update_id)
                self.answered(update_id, None)
                continue
            start(update_id, data, None)
            started += 1
        self._check_room()
        if started:
            log.info("handling %d updates kept from before the restart", started)
        return started

    # ------------------------------------------------------------ shared mode

    async def sweep(self) -> int:
        """Shared mode: start the waiting updates of the chats we hold or can take; how many."""
        assert self.shared is not None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for update_id, when in list(self._retry_at.items()):
            if when <= now:
                del self._retry_at[update_id]
        skip = set(self._open) | self._forgetting | set(self._retry_at)
        async with self._db_lock:
            if self._stopping:
                return 0
            rows = await self.shared.take(skip)
            if self._stopping:
                # the stop began during the take: these stay in the inbox, and their chats
                # are let go of by close()
                return 0
            started = 0
            for update_id, body, chat in rows:
                if update_id in self._open or update_id in self._forgetting:
                    continue
                try:
                    data = json.loads(body)
                    if not isinstance(data, dict):
                        raise ValueError("not an object")
                except ValueError:
                    log.error("update %d in the inbox is not a JSON object; dropped", update_id)
                    self._answered.append(update_id)
                    self._forgetting.add(update_id)
                    continue
                self._open[update_id] = None
                self._chat[update_id] = chat
                self._per_chat[chat] = self._per_chat.get(chat, 0) + 1
                self._start_fn(update_id, data, None)
                started += 1
        taken = self.shared.last_taken_over
        if taken:
            self.taken_over += taken
            log.info("took over %d updates from a bot process that stopped", taken)
        self._check_room()
        return started

    async def _sweep_loop(self) -> None:
        """Shared mode: sweep when updates arrive or every ``sweep_s``; renew leases."""
        assert self.shared is not None
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        every = max(0.2, self.shared.lease_s / 3)
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._swept.wait(), self.sweep_s)
            self._swept.clear()
            if self._closed:
                return
            try:
                if loop.time() - renewed >= every:
                    async with self._db_lock:
                        busy = {c for c, n in self._per_chat.items() if n > 0}
                        held = await self.shared.renew(busy)
                    renewed = loop.time()
                    if busy - held:
                        log.warning("lost the lease of %d chats (this process was too slow)",
                                    len(busy - held))  # fmt: skip
                await self.sweep()
            except Exception as exc:
                log.warning("could not sweep the inbox (%s); trying again", exc)
                await asyncio.sleep(1.0)

    def _chat_done(self, update_id: int) -> None:
        """Shared mode: one open update of its chat less."""
        chat = self._chat.pop(update_id, None)
        if chat is None:
            return
        left = self._per_chat.get(chat, 1) - 1
        if left > 0:
            self._per_chat[chat] = left
        else:
            self._per_chat.pop(chat, None)

    def _after_keep(self, keeping: asyncio.Future[None], ids: list[int]) -> None:
        """A keep that failed: its updates are not open any more (Telegram sends them again)."""
        if not keeping.cancelled() and keeping.exception() is None:
            return
        for update_id in ids:
            if self._open.get(update_id, _MISSING) is keeping:
                del self._open[update_id]
        self._check_room()

    @staticmethod
    async def kept(keeping: Keep) -> bool:
        """Wait for an update's keep; False when it failed (then do not handle it)."""
        if keeping is None:
            return True
        if not keeping.done():
            await asyncio.wait([keeping])
        return not keeping.cancelled() and keeping.exception() is None

    # ------------------------------------------------------------------ leaving

    def is_open(self, update_id: int) -> bool:
        """True while the update is received and not answered."""
        return update_id in self._open

    def answered(self, update_id: int, keeping: Keep) -> None:
        """The update is handled and its replies are sent: delete it soon."""
        if keeping is not None and not keeping.done():
            keeping.add_done_callback(lambda _: self.answered(update_id, keeping))
            return
        if self._open.get(update_id, _MISSING) is not keeping:
            return  # not kept, or a later copy is the open one
        del self._open[update_id]
        self._check_room()
        if self._closed:
            self._chat_done(update_id)
            return  # stopping: it stays in the inbox and is shown again at the next start
        if self.shared is not None:
            self._forgetting.add(update_id)  # not taken again before it is forgotten
        self._answered.append(update_id)
        self._wanted.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())

    def unanswered(self, update_id: int, keeping: Keep) -> None:
        """The replies could not be sent: the update stays in the inbox for the next start."""
        if self._open.get(update_id, _MISSING) is not keeping:
            return
        del self._open[update_id]
        self._check_room()
        if self.shared is not None:
            self._chat_done(update_id)
            self._retry_at[update_id] = asyncio.get_running_loop().time() + 5.0
            log.warning("update %d: replies not sent; tried again in 5 s", update_id)
            return
        log.warning("update %d: replies not sent; kept for the next start", update_id)

    async def _flush_loop(self) -> None:
        """Delete answered updates in batches until closed."""
        while True:
            await self._wanted.wait()
            if not self._closed:
                await asyncio.sleep(self.gather_s)
            self._wanted.clear()
            done = await self.flush()
            if self._closed:
                return
            if not done:
                await asyncio.sleep(1.0)
                self._wanted.set()

    async def flush(self) -> bool:
        """Delete the answered updates now; False (and kept for later) on failure."""
        if self.shared is not None:
            return await self._flush_shared()
        done, self._answered = self._answered, []
        for first in range(0, len(done), FORGET_CHUNK):
            try:
                await self.inbox.forget(done[first : first + FORGET_CHUNK])
            except Exception as exc:
                log.warning("could not clear answered updates from the inbox: %s", exc)
                self._answered.extend(done[first:])
                return False
        return True

    async def _flush_shared(self) -> bool:
        """Forget answered updates and drop the leases of chats left with nothing open."""
        assert self.shared is not None
        async with self._db_lock:
            done, self._answered = self._answered, []
            for update_id in done:
                self._chat_done_keep(update_id)
            idle = {self._done_chat.pop(i) for i in done if i in self._done_chat}
            idle = {c for c in idle if self._per_chat.get(c, 0) == 0}
            try:
                for first in range(0, max(len(done), 1), FORGET_CHUNK):
                    await self.shared.forget_done(
                        done[first : first + FORGET_CHUNK], idle if first == 0 else ()
                    )
            except Exception as exc:
                log.warning("could not clear answered updates from the inbox: %s", exc)
                self._answered.extend(done)
                return False
            self._forgetting.difference_update(done)
        return True

    def _chat_done_keep(self, update_id: int) -> None:
        """An answered update: one open update of its chat less; remember the chat to release."""
        chat = self._chat.get(update_id)
        if chat is not None:
            self._done_chat[update_id] = chat
        self._chat_done(update_id)

    def stop_starting(self) -> None:
        """The stop begins: shared mode starts no more updates (leases are still renewed)."""
        self._stopping = True

    async def close(self) -> None:
        """Stop: delete what is answered; what is still open stays for the next start."""
        self._stopping = True
        self._closed = True
        self._swept.set()
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        self._wanted.set()
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        await self.flush()
        if self.shared is not None:
            # Chats with updates still open (the stop ran out of time) go to the other
            # processes at once, not when their leases run out; each shows its member
            # where they are (the engine kept what was answered already).
            try:
                await self.shared.release_all()
            except Exception as exc:
                log.warning("could not let go of this process's chats (%s); "
                            "they move when their leases run out", exc)  # fmt: skip

    # ------------------------------------------------------------------- room

    def _check_room(self) -> None:
        """Polling goes on only while fewer than ``max_open`` updates are open."""
        if len(self._open) < self.max_open:
            self._room.set()
        else:
            self._room.clear()

    async def wait_for_room(self) -> None:
        """Wait while ``max_open`` updates are open."""
        await self._room.wait()

    @property
    def open_count(self) -> int:
        """Updates received and not answered yet."""
        return len(self._open)

    @property
    def full(self) -> bool:
        """True when no more updates should be taken in for now."""
        return len(self._open) >= self.max_open
