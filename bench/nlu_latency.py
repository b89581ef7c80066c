"""Print the NLU figures: training time, server ready time, memory, parse latency.

Uses the project's model (trains it first if its inputs changed), starts a Rasa
server on a free port in 5105-5199, and times ``parse`` through the same client
the bot uses (safety net + Rasa over HTTP). Run: ``.venv/bin/python bench/nlu_latency.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from nlu_common import (
    ROOT,
    RasaServer,
    RasaUnderstanding,
    ResilientUnderstanding,
    bench_port,
    load_examples,
    percentile,
    time_parses,
)

from bot.nlu.rules import RuleUnderstanding
from bot.nlu.training import NluPaths, ensure_trained


async def main(rounds: int) -> int:
    """Measure and print; 0 on success, 1 when Rasa is not set up."""
    paths = NluPaths(root=ROOT, models_dir=ROOT / "models", venv=ROOT / ".venv-rasa")
    if not paths.venv_ready():
        print("skipped: no .venv-rasa (run: skillspark nlu setup)")
        return 0
    started = time.monotonic()
    trained = ensure_trained(paths)
    train_note = f"{trained.seconds:.1f} s" if trained.trained else "up to date (not retrained)"
    print(f"training: {train_note} ({time.monotonic() - started:.1f} s including the check)")

    texts = [example.text for example in load_examples(paths.test_file)]
    texts += ["yeh", "👍", "nah", "dunno", "i does the cookin for my mum", "skip"]
    async with RasaServer(paths, port=bench_port()) as server:
        print(f"server ready: {server.ready_seconds:.1f} s")
        async with RasaUnderstanding(server.url, server.token, timeout_s=2.0) as rasa:
            bot_client = ResilientUnderstanding(rasa)
            await time_parses(bot_client, texts[:20], rounds=1)  # warm up
            timings = await time_parses(bot_client, texts, rounds=rounds)
            rss = server.rss_bytes() or 0
        rules_timings = await time_parses(RuleUnderstanding(), texts, rounds=rounds)
    print(f"server RSS after {len(timings)} parses: {rss / 2**20:.0f} MB")
    print(
        f"parse through the bot's client (n={len(timings)}): "
        f"p50 {percentile(timings, 50):.1f} ms, p99 {percentile(timings, 99):.1f} ms, "
        f"max {max(timings):.1f} ms"
    )
    print(
        f"rules only (n={len(rules_timings)}): p50 {percentile(rules_timings, 50):.2f} ms, "
        f"p99 {percentile(rules_timings, 99):.2f} ms"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the test sentences")
    raise SystemExit(asyncio.run(main(parser.parse_args().rounds)))
