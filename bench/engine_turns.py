"""The conversation engine's own cost per turn, on a SQLite file (no Telegram, no Rasa).

Onboards ``--members`` members, then plays ``--turns`` turns each (typed
answers to topic questions and button taps, as the Telegram bench does), a few
members at a time, and prints turns per second and CPU milliseconds per turn.
With ``--profile`` it also prints where the time went (cProfile, cumulative).

    .venv/bin/python bench/engine_turns.py [--members 200] [--turns 10] [--profile]
        [--threaded-sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram_throughput import ANSWERS  # noqa: E402  (this folder: the same answers)

from bot.app import open_runtime  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.types import Incoming, MemberKey, Reply  # noqa: E402


class Player:
    """One member: types an answer to a topic question, taps the first button otherwise."""

    def __init__(self, number: int) -> None:
        """A member with a Telegram-like id."""
        self.key = MemberKey("telegram", str(9_000_000 + number), "Sam")
        self.replies: list[Reply] = []
        self.answers = itertools.cycle(ANSWERS)

    def next_input(self) -> Incoming:
        """What the member does next."""
        prompt = next((r for r in reversed(self.replies) if r.buttons), None)
        choices = [b.choice for b in prompt.buttons] if prompt else []
        if prompt is None or "learn" in choices:
            return Incoming("text", next(self.answers))
        return Incoming("button", choices[0], prompt.seq)


async def onboard(engine: Any, player: Player) -> None:
    """Start, "I will read them", name, consent, the first feeling and the first topic."""
    player.replies = await engine.handle(player.key, Incoming("command", "start"))
    seq = next(r.seq for r in player.replies if r.buttons)
    await engine.handle(player.key, Incoming("button", "read_myself", seq))
    player.replies = await engine.handle(player.key, Incoming("text", "Sam"))
    for choice in ("yes", "ok", "ok", "feel_ok", "topic:food"):
        seq = next(r.seq for r in player.replies if r.buttons)
        player.replies = await engine.handle(player.key, Incoming("button", choice, seq))


async def run(args: argparse.Namespace) -> None:
    """Onboard, then measure the turns."""
    with tempfile.TemporaryDirectory(prefix="skillspark-engine-bench-") as folder:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            SKILLSPARK_DATABASE_URL=f"sqlite+aiosqlite:///{folder}/bench.db",
            SKILLSPARK_DATA_DIR=folder,
            SKILLSPARK_NLU_ENABLED=False,
            SKILLSPARK_LOG_LEVEL="WARNING",
        )
        if args.threaded_sqlite:
            import storage.db

            original = storage.db.make_engine
            storage.db.make_engine = lambda url, **kw: original(url, **kw, sqlite_inline=False)  # type: ignore[assignment]
        async with open_runtime(settings) as runtime:
            engine = runtime.engine
            players = [Player(i) for i in range(args.members)]
            for start in range(0, len(players), 20):
                await asyncio.gather(*(onboard(engine, p) for p in players[start : start + 20]))
            counter = itertools.count()

            async def play(player: Player) -> None:
                for _ in range(args.turns):
                    update = next(counter)
                    player.replies = await engine.handle(
                        player.key, player.next_input(), dedup_key=f"bench:{update}"
                    )

            profile = cProfile.Profile() if args.profile else None
            began, cpu = time.perf_counter(), time.process_time()
            if profile:
                profile.enable()
            await asyncio.gather(*(play(p) for p in players))
            if profile:
                profile.disable()
            wall = time.perf_counter() - began
            cpu_used = time.process_time() - cpu
            turns = args.members * args.turns
            cpu_ms = cpu_used * 1000 / turns
            print(
                f"engine: {turns / wall:6.0f} turns/s, {cpu_ms:.2f} ms CPU per turn "
                f"({turns} turns, {args.members} members at once)"
            )
            if profile:
                pstats.Stats(profile).sort_stats(args.profile_sort).print_stats(args.profile_lines)


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-sort", default="cumulative", help="cumulative or tottime")
    parser.add_argument("--profile-lines", type=int, default=45)
    parser.add_argument("--threaded-sqlite", action="store_true", help="aiosqlite's own threads")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
