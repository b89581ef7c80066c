"""Measure the skill finder against its targets and print the figures.

Run: ``.venv/bin/python bench/skill_finder.py [--sentences N]``

Targets (category level on tests/data/skill_sentences.yml): precision >= 0.90,
recall >= 0.85; speed >= 2,000 sentences per second on one core; the finder
adds <= 150 MB of memory and <= 2 s of start-up. Speed is measured as CPU time
of this one process (spaCy here is single-threaded), so other work on a shared
machine does not distort it; wall-clock figures are printed too.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGETS = {
    "precision": 0.90,
    "recall": 0.85,
    "per_second": 2000.0,
    "memory_mb": 150.0,
    "startup_s": 2.0,
}


def rss_mb() -> float:
    """This process's resident memory in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def main() -> int:
    """Build the finder, time it, score it, print everything; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sentences", type=int, default=20_000, help="sentences to time")
    args = parser.parse_args()

    import yaml  # noqa: F401  (already needed by the app; not counted as the finder's)

    from bot.skills.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(ROOT / "dialogues" / "skills.yml")
    memory_before = rss_mb()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    from bot.skills.finder import SpacySkillFinder  # imports spaCy

    wall1 = time.perf_counter()
    finder = SpacySkillFinder(taxonomy)
    wall2, cpu2 = time.perf_counter(), time.process_time()
    finder.find("i walk my neighbours dog")  # first call warms the matcher
    memory_after = rss_mb()

    from bot.skills.evaluate import evaluate, load_sentences

    sentences = load_sentences()
    report = evaluate(finder, sentences)

    texts = [s.text for s in sentences]
    batch = [texts[i % len(texts)] for i in range(args.sentences)]
    wall3, cpu3 = time.perf_counter(), time.process_time()
    for text in batch:
        finder.find(text)
    wall4, cpu4 = time.perf_counter(), time.process_time()
    per_cpu_second = len(batch) / max(cpu4 - cpu3, 1e-9)
    per_wall_second = len(batch) / max(wall4 - wall3, 1e-9)

    overall = report.overall
    memory = memory_after - memory_before
    startup = cpu2 - cpu0
    print(f"taxonomy: {len(taxonomy.skills)} skills, {finder.pattern_count} phrase patterns")
    print(f"annotated sentences: {report.sentences}")
    print(
        f"precision {overall.precision:.3f} (target >= {TARGETS['precision']}) "
        f"{verdict(overall.precision >= TARGETS['precision'])}"
    )
    print(
        f"recall    {overall.recall:.3f} (target >= {TARGETS['recall']}) "
        f"{verdict(overall.recall >= TARGETS['recall'])}"
    )
    print(
        f"F1        {overall.f1:.3f}; learning wishes P {report.wishes.precision:.3f} "
        f"R {report.wishes.recall:.3f}"
    )
    print(
        f"speed     {per_cpu_second:,.0f} sentences per CPU second on one core "
        f"({per_wall_second:,.0f} per wall second) (target >= {TARGETS['per_second']:,.0f}) "
        f"{verdict(per_cpu_second >= TARGETS['per_second'])}"
    )
    print(
        f"memory    +{memory:.0f} MB for spaCy, lookups and the matcher "
        f"(target <= {TARGETS['memory_mb']:.0f}) {verdict(memory <= TARGETS['memory_mb'])}"
    )
    print(
        f"start-up  {startup:.2f} s CPU (import spaCy {wall1 - wall0:.2f} s + build "
        f"{wall2 - wall1:.2f} s wall) (target <= {TARGETS['startup_s']}) "
        f"{verdict(startup <= TARGETS['startup_s'])}"
    )
    ok = (
        overall.precision >= TARGETS["precision"]
        and overall.recall >= TARGETS["recall"]
        and per_cpu_second >= TARGETS["per_second"]
        and memory <= TARGETS["memory_mb"]
        and startup <= TARGETS["startup_s"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
