"""Helpers shared by the NLU bench scripts (not a bench script itself)."""

from __future__ import annotations

import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.nlu.client import RasaUnderstanding, ResilientUnderstanding  # noqa: E402
from bot.nlu.server import RasaServer, free_port  # noqa: E402
from bot.types import NluResult, Understanding  # noqa: E402

#: Ports the NLU engineer's bench and tests may use.
PORT_RANGE = (5105, 5199)

_ANNOTATION = re.compile(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Example:
    """One labelled sentence from a Rasa NLU YAML file."""

    text: str
    intent: str


def load_examples(path: Path) -> list[Example]:
    """Read intent examples (entity annotations removed) from a Rasa NLU file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    examples: list[Example] = []
    for block in data.get("nlu", []):
        if "intent" not in block:
            continue
        for line in str(block["examples"]).splitlines():
            line = line.strip()
            if line.startswith("- "):
                text = _ANNOTATION.sub(r"\1", line[2:].strip())
                examples.append(Example(text=text, intent=str(block["intent"])))
    return examples


def macro_f1(pairs: list[tuple[str, str]]) -> tuple[float, dict[str, tuple[float, float, float]]]:
    """Macro-F1 over the gold intents, and (precision, recall, F1) per intent."""
    gold_labels = sorted({gold for gold, _ in pairs})
    per: dict[str, tuple[float, float, float]] = {}
    for label in gold_labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[label] = (precision, recall, f1)
    return statistics.fmean(v[2] for v in per.values()), per


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def time_parses(nlu: Understanding, texts: list[str], rounds: int) -> list[float]:
    """Milliseconds per ``parse`` call, ``rounds`` passes over ``texts``."""
    timings: list[float] = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            await nlu.parse(text)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


async def predict(nlu: Understanding, examples: list[Example]) -> list[NluResult]:
    """Parse every example once."""
    return [await nlu.parse(example.text) for example in examples]


def bench_port() -> int:
    """A free port in the NLU range."""
    return free_port(*PORT_RANGE)


__all__ = [
    "ROOT",
    "Example",
    "RasaServer",
    "RasaUnderstanding",
    "ResilientUnderstanding",
    "bench_port",
    "load_examples",
    "macro_f1",
    "percentile",
    "predict",
    "time_parses",
]
