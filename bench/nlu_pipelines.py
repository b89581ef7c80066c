"""Compare Rasa NLU pipelines: 5-fold cross-validation, held-out scores, speed, memory.

Heavy (several minutes on 2 cores), so ``make bench`` only prints the last stored
results; ``--run`` measures again and stores them in models/bench/. Both
pipelines use the same char n-gram features (char_wb, 1-4); they differ in the
classifier (and entity extractor).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from nlu_common import (
    ROOT,
    RasaServer,
    RasaUnderstanding,
    ResilientUnderstanding,
    bench_port,
    load_examples,
    macro_f1,
    percentile,
    predict,
    time_parses,
)

from bot.nlu.training import NluPaths, rasa_env

RESULTS = ROOT / "models" / "bench" / "nlu_pipelines.json"
THRESHOLD = 0.6  # the engine's default SKILLSPARK_NLU_THRESHOLD

_FEATURES = """recipe: default.v1
language: en
assistant_id: skillspark-bench
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
"""
_TAIL = """  - name: RegexEntityExtractor
    use_lookup_tables: true
    use_regexes: false
    use_word_boundaries: true
  - name: EntitySynonymMapper
  - name: FallbackClassifier
    threshold: 0.25
    ambiguity_threshold: 0.0
policies: []
"""
PIPELINES: dict[str, str] = {
    "logreg": _FEATURES
    + """  - name: LogisticRegressionClassifier
    max_iter: 300
    random_state: 42
  - name: CRFEntityExtractor
"""
    + _TAIL,
    "diet": _FEATURES
    + """  - name: DIETClassifier
    epochs: 100
    random_seed: 42
    constrain_similarities: true
"""
    + _TAIL,
}


def _rasa(paths: NluPaths, *args: str) -> float:
    """Run a Rasa command; return its wall time in seconds (raise on failure)."""
    started = time.monotonic()
    done = subprocess.run(
        [str(paths.rasa_bin), *args],
        cwd=ROOT,
        env=rasa_env(paths),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError((done.stdout + done.stderr)[-3000:])
    return time.monotonic() - started


def _cross_validate(paths: NluPaths, config: Path, out: Path, folds: int) -> dict[str, Any]:
    """k-fold cross-validation on the training data: macro-F1 and time."""
    seconds = _rasa(
        paths,
        "test", "nlu", "--nlu", str(paths.training_dir), "--config", str(config),
        "--cross-validation", "--folds", str(folds), "--out", str(out), "--no-plot",
    )  # fmt: skip
    report = json.loads((out / "intent_report.json").read_text("utf-8"))
    # Rasa's "macro avg" also averages labels that were only predicted, never
    # gold (nlu_fallback, support 0, F1 0); average over the real intents.
    gold = {
        name: row
        for name, row in report.items()
        if isinstance(row, dict) and "support" in row and "avg" not in name and row["support"]
    }
    errors = json.loads((out / "intent_errors.json").read_text("utf-8"))
    fallback = sum(1 for e in errors if e["intent_prediction"]["name"] == "nlu_fallback")
    total = sum(int(row["support"]) for row in gold.values())
    return {
        "cv_macro_f1": sum(row["f1-score"] for row in gold.values()) / len(gold),
        "cv_macro_f1_rasa_report": report["macro avg"]["f1-score"],
        "cv_accuracy": report.get("accuracy"),
        "cv_fallback_share": fallback / total,
        "cv_per_intent_f1": {name: round(row["f1-score"], 3) for name, row in gold.items()},
        "cv_seconds": round(seconds, 1),
    }


async def _serve_and_measure(paths: NluPaths, rounds: int) -> dict[str, Any]:
    """Start the model's server; score the held-out set; time parses; read memory."""
    held_out = load_examples(paths.test_file)
    texts = [e.text for e in held_out]
    async with RasaServer(paths, port=bench_port()) as server:
        async with RasaUnderstanding(server.url, server.token, timeout_s=5.0) as rasa:
            raw = await predict(rasa, held_out)
            bot = ResilientUnderstanding(rasa)
            combined = await predict(bot, held_out)
            await time_parses(bot, texts[:20], rounds=1)
            timings = await time_parses(bot, texts, rounds=rounds)
        rss = server.rss_bytes() or 0
        ready = server.ready_seconds or 0.0
    gold = [e.intent for e in held_out]
    raw_f1, _ = macro_f1(list(zip(gold, [r.intent for r in raw], strict=True)))
    bot_f1, per = macro_f1(list(zip(gold, [r.intent for r in combined], strict=True)))
    correct = [r for g, r in zip(gold, raw, strict=True) if r.intent == g]
    wrong = [r for g, r in zip(gold, raw, strict=True) if r.intent != g]
    return {
        "heldout_macro_f1_rasa": raw_f1,
        "heldout_macro_f1_bot": bot_f1,
        "distress_recall_rasa": sum(
            1 for g, r in zip(gold, raw, strict=True) if g == "distress" == r.intent
        )
        / gold.count("distress"),
        "distress_recall_bot": per["distress"][1],
        "correct_above_threshold": sum(r.confidence >= THRESHOLD for r in correct) / len(correct),
        "wrong_above_threshold": (
            sum(r.confidence >= THRESHOLD for r in wrong) / len(wrong) if wrong else 0.0
        ),
        "ready_s": round(ready, 1),
        "rss_mb": round(rss / 2**20),
        "p50_ms": round(percentile(timings, 50), 1),
        "p99_ms": round(percentile(timings, 99), 1),
    }


def measure(names: list[str], folds: int, rounds: int) -> dict[str, dict[str, Any]]:
    """Measure each pipeline in turn (one Rasa process at a time)."""
    venv = ROOT / ".venv-rasa"
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"nlu-bench-{name}-") as tmp:
            work = Path(tmp)
            paths = NluPaths(root=ROOT, models_dir=work, venv=venv)
            config = work / "config.yml"
            config.write_text(PIPELINES[name], encoding="utf-8")
            print(f"[{name}] cross-validation ({folds} folds)...", flush=True)
            row = _cross_validate(paths, config, work / "cv", folds)
            print(f"[{name}] training on all data...", flush=True)
            train_args = [
                "train", "nlu", "--nlu", str(paths.training_dir), "--config", str(config),
                "--out", str(work), "--fixed-model-name", "nlu",
            ]  # fmt: skip
            row["train_s"] = round(_rasa(paths, *train_args), 1)
            print(f"[{name}] serving and timing...", flush=True)
            row.update(asyncio.run(_serve_and_measure(paths, rounds)))
            results[name] = row
    return results


def cross_validate_only(name: str, folds: int) -> dict[str, Any]:
    """Cross-validate one pipeline (no training, serving or timing)."""
    with tempfile.TemporaryDirectory(prefix=f"nlu-bench-{name}-") as tmp:
        work = Path(tmp)
        paths = NluPaths(root=ROOT, models_dir=work, venv=ROOT / ".venv-rasa")
        config = work / "config.yml"
        config.write_text(PIPELINES[name], encoding="utf-8")
        return _cross_validate(paths, config, work / "cv", folds)


def print_table(results: dict[str, dict[str, Any]]) -> None:
    """Print the results as a Markdown table."""
    columns = [
        ("cv_macro_f1", "CV macro-F1 (13 intents)", "{:.3f}"),
        ("cv_fallback_share", "CV answered nlu_fallback", "{:.0%}"),
        ("heldout_macro_f1_rasa", "held-out macro-F1 (Rasa)", "{:.3f}"),
        ("heldout_macro_f1_bot", "held-out macro-F1 (bot client)", "{:.3f}"),
        ("distress_recall_rasa", "distress recall (Rasa)", "{:.3f}"),
        ("distress_recall_bot", "distress recall (+ safety net)", "{:.3f}"),
        ("correct_above_threshold", "right answers >= 0.6", "{:.0%}"),
        ("wrong_above_threshold", "wrong answers >= 0.6", "{:.0%}"),
        ("train_s", "train (s)", "{}"),
        ("ready_s", "ready (s)", "{}"),
        ("rss_mb", "RSS (MB)", "{}"),
        ("p50_ms", "parse p50 (ms)", "{}"),
        ("p99_ms", "parse p99 (ms)", "{}"),
        ("cv_seconds", "CV run (s)", "{}"),
    ]
    names = list(results)
    print("| measure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for key, label, fmt in columns:
        cells = [fmt.format(results[n][key]) if key in results[n] else "-" for n in names]
        print(f"| {label} | " + " | ".join(cells) + " |")


def main() -> int:
    """Print stored results, or measure again with ``--run``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", action="store_true", help="measure now (several minutes)")
    parser.add_argument("--pipelines", default="logreg,diet", help="comma-separated names")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="latency passes")
    parser.add_argument("--cv-only", action="store_true", help="only redo cross-validation")
    args = parser.parse_args()
    if not args.run:
        if RESULTS.is_file():
            stored = json.loads(RESULTS.read_text("utf-8"))
            print(f"stored results from {stored['when']} (measure again with --run):")
            print_table(stored["results"])
        else:
            print("no stored results; run: .venv/bin/python bench/nlu_pipelines.py --run")
        return 0
    if not (ROOT / ".venv-rasa" / "bin" / "rasa").is_file():
        print("skipped: no .venv-rasa (run: skillspark nlu setup)")
        return 0
    if args.cv_only:
        stored = json.loads(RESULTS.read_text("utf-8")) if RESULTS.is_file() else {}
        results = stored.get("results", {})
        for name in args.pipelines.split(","):
            print(f"[{name}] cross-validation only ({args.folds} folds)...", flush=True)
            results.setdefault(name, {}).update(cross_validate_only(name, args.folds))
    else:
        results = measure(args.pipelines.split(","), args.folds, args.rounds)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"when": time.strftime("%Y-%m-%d %H:%M"), "results": results}, indent=2),
        encoding="utf-8",
    )
    print_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
