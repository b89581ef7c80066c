"""How fast one member message goes through the Telegram channel, end to end inside the bot.

Measured: from the moment an update is available to ``getUpdates`` to the moment
the bot makes its first reply call (``sendMessage``), through the real polling
loop, the PTB application, the channel, the real engine and SQLite storage (and
the Rasa parse when ``--rasa-url`` is given). Telegram's network is excluded:
the Bot API is answered in memory at once, and the rate limiter is off (its
pacing is Telegram's limit, not work done by the bot).

    .venv/bin/python bench/telegram_throughput.py [--members 200] [--turns 8]
        [--seconds 12] [--think 0.5 1.5] [--engine-limit N] [--skip-adapter]
        [--rasa-url http://127.0.0.1:5005 --rasa-token T]

Prints, first for the adapter alone (an engine that answers at once, no
storage) and then for the real runtime: p50/p99 latency for 200 messages
arriving at the same moment, for 200 members chatting (``--think`` seconds
between a member's messages), and sustained updates per second (no thinking),
with a check that nothing was lost (every update stored exactly once).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram.request import BaseRequest, RequestData

from bot.app import open_runtime, settle_memory
from bot.settings import Settings
from bot.telegram.app import build_application, engine_limit
from bot.telegram.channel import TelegramChannel
from bot.telegram.serve import poll_updates
from bot.types import Incoming, MemberKey, Reply
from storage.inbox import Inbox, MemoryInbox, SqlInbox

TOKEN = "123456789:bench-token-not-real-abcdefghijk"
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "SkillSpark", "username": "Bench"}
ANSWERS = (
    "I make tea for my friends",
    "I walk my dog every day",
    "I help my neighbour with her shopping",
    "I like drawing pictures",
    "I fix my bike when it breaks",
    "I play football on Sundays",
    "I cook dinner for my family",
    "I water the plants in the garden",
)


@dataclass
class Waiting:
    """What a simulated member waits for after sending an update."""

    sent_at: float
    first_reply: asyncio.Future[float]
    prompt: asyncio.Future[dict[str, Any]]


@dataclass
class InstantTelegram(BaseRequest):
    """The Bot API answered in memory at once; members' updates come out of ``getUpdates``."""

    pending: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: dict[int, Waiting] = field(default_factory=dict)
    message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    replies_sent: int = 0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    @property
    def read_timeout(self) -> float:
        """Never used (answers are instant)."""
        return 10.0

    def push(self, chat_id: int, update: dict[str, Any]) -> Waiting:
        """Make an update available to getUpdates; returns what to wait for."""
        loop = asyncio.get_running_loop()
        wait = Waiting(time.perf_counter(), loop.create_future(), loop.create_future())
        self.waiting[chat_id] = wait
        self.pending.append({"update_id": next(self.update_ids), **update})
        self.arrived.set()
        return wait

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Answer one Bot API call."""
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        result = await self._answer(name, params)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    async def _answer(self, name: str, params: dict[str, Any]) -> Any:
        """The result of one method."""
        if name == "getMe":
            return BOT_USER
        if name == "getUpdates":
            return await self._updates(params)
        if name in ("sendMessage", "sendPhoto", "sendDocument"):
            return self._message_sent(params)
        if name in ("editMessageReplyMarkup", "editMessageText"):
            return self._message(int(params["chat_id"]), int(params["message_id"]), {})
        return True

    async def _updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Confirmed ones dropped, then up to 100 pending ones (waiting briefly for some)."""
        offset = params.get("offset")
        if offset is not None:
            self.pending = [u for u in self.pending if u["update_id"] >= int(offset)]
        if not self.pending:
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), min(float(params.get("timeout", 0)), 1))
        return self.pending[:100]

    def _message(self, chat_id: int, message_id: int, extra: dict[str, Any]) -> dict[str, Any]:
        """A message object."""
        chat = {"id": chat_id, "type": "private", "first_name": "M"}
        return {"message_id": message_id, "date": 0, "chat": chat, "from": BOT_USER, **extra}

    def _message_sent(self, params: dict[str, Any]) -> dict[str, Any]:
        """A message the bot sent: wakes the member waiting in that chat."""
        chat_id = int(params["chat_id"])
        message = self._message(chat_id, next(self.message_ids), {"text": params.get("text", "")})
        self.replies_sent += 1
        wait = self.waiting.get(chat_id)
        if wait is not None:
            if not wait.first_reply.done():
                wait.first_reply.set_result(time.perf_counter())
            markup = params.get("reply_markup")
            if markup and not wait.prompt.done():
                message["reply_markup"] = markup
                wait.prompt.set_result(message)
        return message


class InstantEngine:
    """An engine that answers at once without storage: the channel's own cost."""

    def __init__(self) -> None:
        """Nothing asked yet."""
        self.seq = itertools.count(1)

    async def handle(
        self, member: MemberKey, incoming: Incoming, *, dedup_key: str | None = None
    ) -> list[Reply]:
        """A question with the standard buttons."""
        from bot.types import Button

        buttons = (Button("yes", "✅ Yes"), Button("no", "❌ No"), Button("learn", "📚 Learn"))
        return [Reply("q", "Do you make tea? ☕", buttons, seq=next(self.seq))]

    async def current_prompt(self, member: MemberKey) -> list[Reply]:
        """Same as any answer."""
        return await self.handle(member, Incoming("command", "repeat"))


@dataclass
class Member:
    """One simulated member: their chat and the question on their screen."""

    chat_id: int
    prompt: dict[str, Any] | None = None
    answers: itertools.cycle[str] = field(default_factory=lambda: itertools.cycle(ANSWERS))

    def next_update(self) -> dict[str, Any]:
        """Type an answer to a topic question; tap the first button of anything else."""
        user = {"id": self.chat_id, "is_bot": False, "first_name": "Sam"}
        chat = {"id": self.chat_id, "type": "private", "first_name": "Sam"}
        buttons = [b for row in (self.prompt or {}).get("reply_markup", {}).get(
            "inline_keyboard", []) for b in row]  # fmt: skip
        choices = [b["callback_data"].split(":", 1)[1] for b in buttons]
        if self.prompt is None or "learn" in choices:
            text = next(self.answers)
            message = {"message_id": 0, "date": 0, "chat": chat, "from": user, "text": text}
            return {"message": message}
        query = {
            "id": f"{self.chat_id}{random.randrange(10**9)}",
            "from": user,
            "chat_instance": str(self.chat_id),
            "message": self.prompt,
            "data": buttons[0]["callback_data"],
        }
        return {"callback_query": query}


async def turn(tg: InstantTelegram, member: Member) -> float:
    """One member message: returns ms until the first reply call; waits for the new question."""
    wait = tg.push(member.chat_id, member.next_update())
    first = await asyncio.wait_for(wait.first_reply, 30)
    member.prompt = await asyncio.wait_for(wait.prompt, 30)
    return (first - wait.sent_at) * 1000


async def onboard(engine: Any, members: list[Member], read: str = "read_myself") -> None:
    """Bring members to their first topic question through the engine (not measured).

    ``read``: the member's answer to "Shall I read my messages to you?"
    (``read_to_me`` turns read aloud on for them).
    """

    async def one(member: Member) -> None:
        key = MemberKey("telegram", str(member.chat_id), "Sam")
        replies = await engine.handle(key, Incoming("command", "start"))
        seq = next(r.seq for r in replies if r.buttons)
        await engine.handle(key, Incoming("button", read, seq))
        replies = await engine.handle(key, Incoming("text", "Sam"))
        for choice in ("yes", "ok", "ok", "feel_ok", "topic:food"):
            seq = next(r.seq for r in replies if r.buttons)
            replies = await engine.handle(key, Incoming("button", choice, seq))
        prompt = next(r for r in replies if r.buttons)
        keyboard = [[{"text": b.label, "callback_data": f"{prompt.seq}:{b.choice}"}
                     for b in prompt.buttons]]  # fmt: skip
        chat = {"id": member.chat_id, "type": "private", "first_name": "Sam"}
        member.prompt = {"message_id": 1, "date": 0, "chat": chat, "text": prompt.text,
                         "reply_markup": {"inline_keyboard": keyboard}}  # fmt: skip

    for start in range(0, len(members), 20):
        await asyncio.gather(*(one(m) for m in members[start : start + 20]))


def percentiles(values: list[float]) -> str:
    """p50 and p99 of milliseconds."""
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):6.1f} ms   p99 {p99:6.1f} ms   (n={len(ordered)})"


async def run_phases(
    tg: InstantTelegram, members: list[Member], args: argparse.Namespace, label: str
) -> tuple[float, int]:
    """The three measurements; returns (updates per second, updates sent)."""
    sent = 0

    # 1. everyone at the same moment
    latencies = await asyncio.gather(*(turn(tg, m) for m in members))
    sent += len(members)
    print(f"{label} {len(members)} messages at the same moment:  {percentiles(list(latencies))}")

    # 2. everyone chatting, reading and thinking between messages
    steady: list[float] = []
    stop_at = time.perf_counter() + args.seconds
    low, high = args.think

    async def chat(member: Member) -> None:
        nonlocal sent
        await asyncio.sleep(random.uniform(0, high))
        while time.perf_counter() < stop_at:
            steady.append(await turn(tg, member))
            sent += 1
            await asyncio.sleep(random.uniform(low, high))

    began = time.perf_counter()
    await asyncio.gather(*(chat(m) for m in members))
    rate = len(steady) / (time.perf_counter() - began)
    print(
        f"{label} {len(members)} members chatting, {low:g}-{high:g} s between messages "
        f"({rate:.0f} msg/s): {percentiles(steady)}"
    )

    # 3. sustained: no thinking, as fast as the bot answers
    async def hammer(member: Member) -> None:
        nonlocal sent
        for _ in range(args.turns):
            await turn(tg, member)
            sent += 1

    began, cpu_began = time.perf_counter(), time.process_time()
    await asyncio.gather(*(hammer(m) for m in members))
    elapsed = time.perf_counter() - began
    updates = len(members) * args.turns
    per_second = updates / elapsed
    cpu_ms = (time.process_time() - cpu_began) * 1000 / updates
    print(
        f"{label} sustained: {per_second:7.0f} updates/s ({updates} updates; "
        f"{cpu_ms:.2f} ms CPU each, simulated members included)"
    )
    return per_second, sent


async def bench(args: argparse.Namespace, engine_factory: str) -> None:
    """Run the phases in a fresh temporary folder (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="skillspark-bench-") as folder:
        await bench_in(Path(folder), args, engine_factory)


async def bench_in(workdir: Path, args: argparse.Namespace, engine_factory: str) -> None:
    """Run the phases with the instant engine or the real runtime."""
    env: dict[str, Any] = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "SKILLSPARK_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        "SKILLSPARK_DATA_DIR": workdir,
        "SKILLSPARK_NLU_ENABLED": bool(args.rasa_url),
        "SKILLSPARK_LOG_LEVEL": "WARNING",
    }
    if args.rasa_url:
        env.update({"SKILLSPARK_RASA_URL": args.rasa_url, "SKILLSPARK_RASA_TOKEN": args.rasa_token})
        from bot.nlu.client import RasaUnderstanding

        async with RasaUnderstanding(args.rasa_url, args.rasa_token) as rasa:
            if not await rasa.healthy():
                raise SystemExit(f"Rasa is not answering at {args.rasa_url}")
    settings = Settings(_env_file=None, **env)  # type: ignore[call-arg]
    members = [Member(9_000_000 + i) for i in range(args.members)]

    async def measure(engine: Any, label: str, inbox: Inbox) -> tuple[float, int]:
        tg = InstantTelegram()
        limit = args.engine_limit or engine_limit(settings)
        channel = TelegramChannel(engine, lambda key: key, engine_limit=limit, inbox=inbox)
        app = build_application(settings, channel, request=tg, rate_limiter=False)
        stop = asyncio.Event()
        await app.initialize()
        await app.start()
        poller = asyncio.create_task(poll_updates(app.bot, channel, stop, poll_s=1))
        try:
            return await run_phases(tg, members, args, label)
        finally:
            stop.set()
            await poller
            await channel.drain(10)
            await app.stop()
            await app.shutdown()

    if engine_factory == "instant":
        await onboard(InstantEngine(), members)
        await measure(InstantEngine(), "adapter only:", MemoryInbox())
        return
    async with open_runtime(settings) as runtime:
        logging.getLogger().setLevel(logging.WARNING)
        began = time.perf_counter()
        await onboard(runtime.engine, members)
        print(f"(onboarded {len(members)} members in {time.perf_counter() - began:.1f} s)")
        settle_memory()  # as `skillspark run` does once it has started
        nlu = "with Rasa" if args.rasa_url else "rules NLU"
        _, sent = await measure(runtime.engine, f"full ({nlu}):", SqlInbox(runtime.sessionmaker))
        if args.rasa_url and getattr(runtime.engine.understanding, "degraded", False):
            print("WARNING: Rasa stopped answering during the run; the rules answered instead")
    check_nothing_lost(workdir / "bench.db", sent)


def check_nothing_lost(db: Path, sent: int) -> None:
    """Every update stored exactly once (its dedup key) and answered (the inbox is empty)."""
    conn = sqlite3.connect(db)
    try:
        (stored,) = conn.execute("SELECT count(*) FROM processed_inputs").fetchone()
        (left,) = conn.execute("SELECT count(*) FROM inbound_updates").fetchone()
    finally:
        conn.close()
    lost = sent - stored
    print(f"nothing lost: {sent} updates sent, {stored} stored, {lost} missing, "
          f"{left} left in the inbox")  # fmt: skip


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--turns", type=int, default=8, help="messages per member, sustained")
    parser.add_argument("--seconds", type=float, default=12, help="length of the chatting phase")
    parser.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(0.5, 1.5),
        help="seconds between a member's messages",
    )
    parser.add_argument("--rasa-url", default="")
    parser.add_argument("--rasa-token", default="")
    parser.add_argument("--skip-adapter", action="store_true")
    parser.add_argument(
        "--engine-limit", type=int, default=0, help="engine calls at once (0: as the bot does)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    runs: list[Callable[[], Coroutine[Any, Any, None]]] = []
    if not args.skip_adapter:
        runs.append(lambda: bench(args, "instant"))
    runs.append(lambda: bench(args, "real"))
    for run in runs:
        asyncio.run(run())


if __name__ == "__main__":
    main()
