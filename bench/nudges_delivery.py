"""Nudge delivery against a real loopback HTTP Bot API: rate, duplicates, losses, restarts.

The Bot API is the test peer (``tests/botapi_peer.py``) in this process. Each
sender is a separate process running what the bot runs: the APScheduler nudge
jobs (``bot.nudges.jobs.add_nudge_jobs``) with the python-telegram-bot sender,
pacing 28 a second overall and 1 a second per chat, and stopping on
SIGTERM/SIGINT the way the bot does. The outbox starts with ``--count`` nudges
due now, one per member.

    .venv/bin/python bench/nudges_delivery.py [--count 10000]        # one sender, SQLite
    .venv/bin/python bench/nudges_delivery.py --kill-at 0.5 --signal TERM   # restart (clean stop)
    .venv/bin/python bench/nudges_delivery.py --kill-at 0.5 --signal KILL   # crash halfway, restart
    .venv/bin/python bench/nudges_delivery.py --senders 2 \\
        --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test    # two senders, PostgreSQL
    .venv/bin/python bench/nudges_delivery.py --suite [--pg-url ...]  # all of the above in turn

Printed for each run: messages per second (first to last delivery, and without
the restart gap), the most messages in any 1-second window, and the outcome:
``sent`` (nudges delivered), ``duplicates`` (a nudge delivered twice), ``lost``
(never delivered), ``unknown`` (rows the bot marks "maybe sent": a sender died
during the call; never resent, listed by ``skillspark nudges status``) split
into delivered and not, and ``silently lost`` (lost and not marked unknown:
must be 0). The bot's default is 28 a second (2 a second stay free for replies
to members); with N senders each paces 28/N (the limit is per bot, not per
process).
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
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
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


def outbox_ids(url: str, schema: str | None, status: str) -> set[int]:
    """Ids of the outbox rows in one state."""
    engine = sa.create_engine(
        sync_url(url),
        connect_args={"options": f"-csearch_path={schema}"} if schema else {},
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id FROM nudge_outbox WHERE status = :s"), {"s": status}
            )
            return {int(i) for (i,) in rows}
    finally:
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
    """One bot process's nudge sending: the real jobs on APScheduler, until SIGTERM/SIGINT."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from bot.app import load_app_content
    from bot.nudges.jobs import add_nudge_jobs
    from bot.nudges.ptb import TelegramNudgeSender
    from bot.settings import Settings
    from bot.telegram.app import api_base_urls
    from storage.db import make_engine, make_sessionmaker

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        SKILLSPARK_NUDGE_SWEEP_SECONDS=1.0,
        SKILLSPARK_NUDGE_RATE=args.rate,
        SKILLSPARK_STAFF_CONTACT="Jo",
    )
    content = load_app_content(settings)
    engine = make_engine(args.db_url, schema=args.schema or None)
    base_url, file_url = api_base_urls(args.api)
    bot = Bot(
        TOKEN,
        base_url=base_url,
        base_file_url=file_url,
        request=HTTPXRequest(connection_pool_size=32),
    )
    await bot.initialize()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # as bot/telegram/app.py does
        loop.add_signal_handler(sig, stop.set)
    scheduler = AsyncIOScheduler(timezone="UTC")
    jobs = add_nudge_jobs(
        scheduler,
        make_sessionmaker(engine),
        content,
        settings,
        TelegramNudgeSender(bot),
        start_in=timedelta(0),
        stop=stop,
    )
    scheduler.start()
    await stop.wait()
    await jobs.stop()  # as bot/telegram/app.py: before the scheduler and the database
    scheduler.shutdown(wait=False)
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


@dataclass
class Run:
    """One measured run: what is started and when a sender is stopped."""

    name: str
    senders: int = 1
    stop_at: float = 0.0  # share of deliveries after which sender 1 gets the signal
    signal: str = "KILL"
    postgres: bool = False


@dataclass
class Outcome:
    """What the peer saw and what the outbox says at the end of a run."""

    run: Run
    messages: int
    sent: int
    duplicates: int
    lost: int
    unknown: int
    unknown_delivered: int
    rate: float
    rate_without_gap: float | None
    busiest: int
    stop_seconds: float | None
    left_on_stop: dict[str, int]
    states: dict[str, int]

    @property
    def silently_lost(self) -> int:
        """Never delivered and not marked unknown (nobody would know): must be 0."""
        return self.lost - (self.unknown - self.unknown_delivered)

    def line(self) -> str:
        """One summary line."""
        return (
            f"{self.run.name:<34} sent {self.sent:>6}  duplicates {self.duplicates}  "
            f"lost {self.lost}  unknown {self.unknown} ({self.unknown_delivered} delivered)  "
            f"silently lost {self.silently_lost}  rate {self.rate:.2f}/s ({self.rate / 30:.1%})"
        )


def runs_from(args: argparse.Namespace) -> list[Run]:
    """The runs the flags ask for."""
    if args.suite:
        runs = [
            Run("1 sender, SQLite"),
            Run("SIGTERM halfway, restarted", stop_at=0.5, signal="TERM"),
            Run("SIGKILL halfway, restarted", stop_at=0.5, signal="KILL"),
        ]
        if args.pg_url:
            runs.append(Run("2 senders, PostgreSQL", senders=2, postgres=True))
        return runs
    name = f"{args.senders} sender(s), {'PostgreSQL' if args.pg_url else 'SQLite'}"
    if args.kill_at:
        name += f", SIG{args.signal} at {args.kill_at:.0%}"
    return [Run(name, args.senders, args.kill_at, args.signal, bool(args.pg_url))]


def main_run(args: argparse.Namespace) -> int:
    """Seed, run the senders (stopping one if asked), and print the figures, run by run."""
    outcomes = [one_run(args, run) for run in runs_from(args)]
    print("\nsummary:")
    for outcome in outcomes:
        print("  " + outcome.line())
    bad = [
        o
        for o in outcomes
        if o.duplicates or o.silently_lost or (o.lost and o.run.signal != "KILL")
    ]
    return 1 if bad else 0


def one_run(args: argparse.Namespace, run: Run) -> Outcome:
    """One run on a fresh database."""
    with tempfile.TemporaryDirectory() as tmp:
        schema = None
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        if run.postgres:
            url, schema = args.pg_url, f"bench_{uuid.uuid4().hex[:10]}"
            admin = sa.create_engine(sync_url(url))
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            return _run(args, run, url, schema)
        finally:
            if schema:
                with admin.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


def _run(args: argparse.Namespace, run: Run, url: str, schema: str | None) -> Outcome:
    """The measured part."""
    started = time.monotonic()
    seed(url, schema, args.count)
    peer = TimedPeer()
    peer.start()
    if peer._server is not None:  # a killed sender's connection reset is expected here
        peer._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    for i in range(1, args.count + 1):
        peer.user(FIRST_CHAT + i, f"M{i}")
    print(
        f"\n{run.name}: {args.count} nudges due, {'PostgreSQL' if schema else 'SQLite'}, "
        f"{run.senders} sender(s) at {args.rate / run.senders:g}/s each; "
        f"set up in {time.monotonic() - started:.0f} s"
    )
    rate = args.rate / run.senders
    senders = [start_sender(url, schema, peer.base_url, rate) for _ in range(run.senders)]
    killed_at: float | None = None
    restarted_at: float | None = None
    stop_seconds: float | None = None
    left_on_stop: dict[str, int] = {}
    deadline = time.monotonic() + args.count / 30 * 3 + 120
    try:
        while time.monotonic() < deadline:
            time.sleep(0.5)
            delivered = len(peer.calls_of("sendMessage"))
            if run.stop_at and killed_at is None and delivered >= run.stop_at * args.count:
                signalled = time.monotonic()
                senders[0].send_signal(getattr(signal, f"SIG{run.signal}"))
                code = senders[0].wait()
                killed_at = time.monotonic()
                stop_seconds = killed_at - signalled
                states = outbox_states(url, schema)
                left_on_stop = {s: states[s] for s in ("claimed", "sending", "unknown")}
                print(
                    f"  sender stopped with SIG{run.signal} after {delivered} deliveries: "
                    f"exit code {code} after {stop_seconds:.2f} s; left behind: {left_on_stop}"
                )
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
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    rate_all = (len(times) - 1) / span if span else 0.0
    print(f"  delivered {len(times)} messages for {len(counts)} nudges in {span:.1f} s")
    print(f"  rate {rate_all:.2f}/s ({rate_all / 30:.1%} of 30/s) first to last delivery")
    rate_without_gap = None
    if killed_at is not None and restarted_at is not None:
        before = [t for t in times if t <= killed_at]
        after = [t for t in times if t > killed_at]
        if before and after:
            gap = after[0] - before[-1]
            busy = span - gap
            rate_without_gap = (len(times) - 2) / busy
            print(
                f"  restart gap {gap:.1f} s (new process start-up); "
                f"rate without the gap {rate_without_gap:.2f}/s ({rate_without_gap / 30:.1%})"
            )
    busiest = busiest_second(times)
    print(
        f"  busiest 1-second window: {busiest} messages; most to one chat: "
        f"{max(chats.values(), default=0)}"
    )
    states = outbox_states(url, schema)
    unknown_ids = outbox_ids(url, schema, "unknown")
    outcome = Outcome(
        run=run,
        messages=len(times),
        sent=len(counts),
        duplicates=sum(c - 1 for c in counts.values()),
        lost=args.count - len(counts),
        unknown=len(unknown_ids),
        unknown_delivered=len(unknown_ids & counts.keys()),
        rate=rate_all,
        rate_without_gap=rate_without_gap,
        busiest=busiest,
        stop_seconds=stop_seconds,
        left_on_stop=left_on_stop,
        states=dict(sorted(states.items())),
    )
    print(f"  outbox states: {outcome.states}")
    print("  " + outcome.line())
    return outcome


def main() -> int:
    """Parse flags; run as the orchestrator or as one sender process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="nudges due (default 10000)")
    parser.add_argument("--senders", type=int, default=1, help="sender processes")
    parser.add_argument("--kill-at", type=float, default=0.0, help="stop sender 1 at this share")
    parser.add_argument("--signal", default="KILL", choices=["KILL", "TERM", "INT"])
    parser.add_argument(
        "--suite",
        action="store_true",
        help="1 sender; SIGTERM halfway; SIGKILL halfway; 2 senders on PostgreSQL (--pg-url)",
    )
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
