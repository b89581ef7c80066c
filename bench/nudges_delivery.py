"""Nudge delivery against a real loopback HTTP Bot API: rate, duplicates, losses, crashes.

The Bot API is the test peer (``tests/botapi_peer.py``) in this process. Each
sender is a separate process running what the bot runs: the APScheduler nudge
jobs (``bot.nudges.jobs.add_nudge_jobs``) with the python-telegram-bot sender,
pacing 30 a second overall and 1 a second per chat. The outbox starts with
``--count`` nudges due now, one per member.

    .venv/bin/python bench/nudges_delivery.py [--count 10000]        # one sender, SQLite
    .venv/bin/python bench/nudges_delivery.py --kill-at 0.5           # SIGKILL halfway, restart
    .venv/bin/python bench/nudges_delivery.py --senders 2 \\
        --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test    # two senders, PostgreSQL

Printed: messages per second (first to last delivery, and without the restart
gap), the most messages in any 1-second window, duplicates (a nudge delivered
twice), lost (a nudge never delivered), and the outbox states at the end.
The bot's default is 28 a second (2 a second stay free for replies to members);
with N senders each paces 28/N (the limit is per bot, not per process).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from bisect import bisect_left
from collections import Counter
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.botapi_peer import TOKEN, BotApiPeer  # noqa: E402

FIRST_CHAT = 50_000_000


class TimedPeer(BotApiPeer):
    """The Bot API peer, also noting when each call was answered."""

    def __init__(self) -> None:
        """A peer with a clock per call."""
        super().__init__()
        self.times: list[float] = []

    def _record(self, method: str, params: Any, files: Any, status: int) -> None:
        """Keep the call and its time (under the peer's lock)."""
        self.times.append(time.monotonic())
        super()._record(method, params, files, status)


# ------------------------------------------------------------------ database


def sync_url(url: str) -> str:
    """The same database for a synchronous driver."""
    return url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")


def seed(url: str, schema: str | None, count: int) -> None:
    """``count`` consenting members, each with one nudge due now (no quiet hours)."""
    from bot.nudges.prefs import NudgeDefaults, new_prefs
    from storage.db import make_engine, upgrade
    from storage.models import Member, utcnow
    from storage.models_nudges import NudgeOutbox, NudgePrefs, Opportunity

    async def go() -> None:
        engine = make_engine(url, schema=schema)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(go())
    now = utcnow()
    engine = sa.create_engine(
        sync_url(url),
        connect_args={"options": f"-csearch_path={schema}"} if schema else {},
    )
    with engine.begin() as conn:
        result = conn.execute(
            sa.insert(Opportunity).returning(Opportunity.id),
            [
                {
                    "title": "Garden day at the allotment",
                    "description": "Help us plant beans 🌱. We have tea and cake.",
                    "emoji": "🌻",
                    "categories": ["gardening"],
                    "network": None,
                    "when_text": "Saturday at 10 in the morning",
                    "where_text": "The allotment on Park Road",
                    "contact": "Sam at the allotment",
                    "status": "open",
                    "created_at": now,
                    "created_by": "bench",
                }
            ],
        )
        opp_id = result.scalar_one()
        step = 5000
        for start in range(0, count, step):
            ids = range(start + 1, min(count, start + step) + 1)
            conn.execute(
                sa.insert(Member),
                [
                    {
                        "id": i,
                        "telegram_id": FIRST_CHAT + i,
                        "first_name": f"M{i}",
                        "network": "default",
                        "language": "en",
                        "consent": True,
                        "created_at": now,
                        "last_active_at": now,
                    }
                    for i in ids
                ],
            )
            prefs = []
            for i in ids:
                row = new_prefs(i, NudgeDefaults(), now)
                row.update(quiet_start=0, quiet_end=0, next_due_at=now + timedelta(days=6))
                prefs.append(row)
            conn.execute(sa.insert(NudgePrefs), prefs)
            conn.execute(
                sa.insert(NudgeOutbox),
                [
                    {
                        "member_id": i,
                        "chat_id": FIRST_CHAT + i,
                        "kind": "opportunity",
                        "direction": "give",
                        "opportunity_id": opp_id,
                        "due_at": now,
                        "send_before": now + timedelta(days=1),
                        "status": "pending",
                        "attempts": 0,
                        "created_at": now,
                    }
                    for i in ids
                ],
            )
    engine.dispose()


def outbox_states(url: str, schema: str | None) -> Counter[str]:
    """How many outbox rows are in each state."""
    engine = sa.create_engine(
        sync_url(url),
        connect_args={"options": f"-csearch_path={schema}"} if schema else {},
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT status, count(*) FROM nudge_outbox GROUP BY 1"))
            return Counter({str(s): int(c) for s, c in rows})
    finally:
        engine.dispose()


# ------------------------------------------------------------------ sender process


async def run_sender(args: argparse.Namespace) -> None:
    """One bot process's nudge sending: the real jobs on APScheduler, until SIGTERM."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from bot.app import load_app_content
    from bot.nudges.jobs import add_nudge_jobs
    from bot.nudges.ptb import TelegramNudgeSender
    from bot.settings import Settings
    from bot.telegram.app import api_base_urls
    from storage.db import make_engine, make_sessionmaker

    content = load_app_content(Settings(_env_file=None))  # type: ignore[call-arg]
    engine = make_engine(args.db_url, schema=args.schema or None)
    base_url, file_url = api_base_urls(args.api)
    bot = Bot(
        TOKEN,
        base_url=base_url,
        base_file_url=file_url,
        request=HTTPXRequest(connection_pool_size=32),
    )
    await bot.initialize()
    settings = SimpleNamespace(nudge_sweep_seconds=1.0, nudge_rate=args.rate, staff_contact="Jo")
    scheduler = AsyncIOScheduler(timezone="UTC")
    jobs = add_nudge_jobs(
        scheduler,
        make_sessionmaker(engine),
        content,
        settings,
        TelegramNudgeSender(bot),
        start_in=timedelta(0),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    scheduler.start()
    await stop.wait()
    scheduler.shutdown(wait=False)
    await jobs.stop()
    await bot.shutdown()
    await engine.dispose()


def start_sender(url: str, schema: str | None, api: str, rate: float) -> subprocess.Popen[bytes]:
    """Start one sender process."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--sender",
        "--db-url",
        url,
        "--schema",
        schema or "",
        "--api",
        api,
        "--rate",
        str(rate),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SKILLSPARK_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)


# ------------------------------------------------------------------ the run


def sent_nudges(peer: TimedPeer) -> tuple[list[int], list[float], Counter[int]]:
    """Nudge ids delivered (in order), their times, and deliveries per chat."""
    ids: list[int] = []
    times: list[float] = []
    chats: Counter[int] = Counter()
    with peer._cond:
        calls = list(zip(peer.calls, peer.times, strict=True))
    for call, at in calls:
        if call.method != "sendMessage" or call.status != 200:
            continue
        rows = (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
        data = [b.get("callback_data", "") for row in rows for b in row]
        yes = next((d for d in data if d.endswith(":y")), "")
        if yes:
            ids.append(int(yes.split(":")[2]))
            times.append(at)
            chats[int(call.params["chat_id"])] += 1
    return ids, times, chats


def busiest_second(times: list[float]) -> int:
    """The most deliveries in any window of 1 second."""
    ordered = sorted(times)
    return max((bisect_left(ordered, t + 1.0) - i for i, t in enumerate(ordered)), default=0)


def main_run(args: argparse.Namespace) -> int:
    """Seed, run the senders (killing one if asked), and print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        schema = None
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        if args.pg_url:
            url, schema = args.pg_url, f"bench_{uuid.uuid4().hex[:10]}"
            admin = sa.create_engine(sync_url(url))
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            return _run(args, url, schema)
        finally:
            if schema:
                with admin.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


def _run(args: argparse.Namespace, url: str, schema: str | None) -> int:
    """The measured part."""
    started = time.monotonic()
    seed(url, schema, args.count)
    peer = TimedPeer().start()
    if peer._server is not None:  # a killed sender's connection reset is expected here
        peer._server.handle_error = lambda request, address: None  # type: ignore[method-assign]
    for i in range(1, args.count + 1):
        peer.user(FIRST_CHAT + i, f"M{i}")
    print(
        f"{args.count} nudges due, {'PostgreSQL' if schema else 'SQLite'}, "
        f"{args.senders} sender(s) at {args.rate / args.senders:g}/s each; "
        f"set up in {time.monotonic() - started:.0f} s"
    )
    rate = args.rate / args.senders
    senders = [start_sender(url, schema, peer.base_url, rate) for _ in range(args.senders)]
    killed_at: float | None = None
    restarted_at: float | None = None
    deadline = time.monotonic() + args.count / 30 * 3 + 120
    try:
        while time.monotonic() < deadline:
            time.sleep(0.5)
            delivered = len(peer.calls_of("sendMessage"))
            if args.kill_at and killed_at is None and delivered >= args.kill_at * args.count:
                senders[0].send_signal(getattr(signal, f"SIG{args.signal}"))
                senders[0].wait()
                killed_at = time.monotonic()
                print(f"  sender killed with SIG{args.signal} after {delivered} deliveries")
                senders[0] = start_sender(url, schema, peer.base_url, rate)
                restarted_at = time.monotonic()
            if delivered >= args.count * 0.5 or killed_at:
                states = outbox_states(url, schema)
                if not states["pending"] + states["claimed"] + states["sending"]:
                    break
        else:
            print("  timed out")
    finally:
        for proc in senders:
            proc.send_signal(signal.SIGTERM)
        for proc in senders:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        peer.stop()
    ids, times, chats = sent_nudges(peer)
    counts = Counter(ids)
    duplicates = sum(c - 1 for c in counts.values())
    lost = args.count - len(counts)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    rate_all = (len(times) - 1) / span if span else 0.0
    print(f"  delivered {len(times)} messages for {len(counts)} nudges in {span:.1f} s")
    print(f"  rate {rate_all:.2f}/s ({rate_all / 30:.1%} of 30/s) first to last delivery")
    if killed_at is not None and restarted_at is not None:
        before = [t for t in times if t <= killed_at]
        after = [t for t in times if t > killed_at]
        if before and after:
            gap = after[0] - before[-1]
            busy = span - gap
            print(
                f"  restart gap {gap:.1f} s (new process start-up); "
                f"rate without the gap {(len(times) - 2) / busy:.2f}/s "
                f"({(len(times) - 2) / busy / 30:.1%})"
            )
    print(
        f"  busiest 1-second window: {busiest_second(times)} messages; most to one chat: "
        f"{max(chats.values(), default=0)}"
    )
    print(f"  duplicates: {duplicates}   lost: {lost}")
    states = outbox_states(url, schema)
    print(f"  outbox states: {dict(sorted(states.items()))}")
    if states["unknown"]:
        print(f"  unknown: {states['unknown']} (a sender died during the call; never resent)")
    return 0 if duplicates == 0 and lost == 0 else 1


def main() -> int:
    """Parse flags; run as the orchestrator or as one sender process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="nudges due (default 10000)")
    parser.add_argument("--senders", type=int, default=1, help="sender processes")
    parser.add_argument("--kill-at", type=float, default=0.0, help="kill sender 1 at this share")
    parser.add_argument("--signal", default="KILL", choices=["KILL", "TERM"])
    parser.add_argument("--pg-url", default="", help="PostgreSQL URL (a fresh schema is used)")
    parser.add_argument("--sender", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--schema", default="", help=argparse.SUPPRESS)
    parser.add_argument("--api", default="", help=argparse.SUPPRESS)
    parser.add_argument(
        "--rate", type=float, default=28.0, help="nudges a second for all senders together"
    )
    args = parser.parse_args()
    if args.sender:
        asyncio.run(run_sender(args))
        return 0
    return main_run(args)


if __name__ == "__main__":
    sys.exit(main())
