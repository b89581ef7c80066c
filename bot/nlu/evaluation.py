"""Evaluate the trained model on the held-out test set (``rasa test nlu``).

Reads Rasa's ``intent_report.json`` for per-intent precision, recall and F1,
and ``intent_errors.json`` to count how many missed distress messages the
phrase safety net still catches (the bot runs both on every message).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.nlu.safety import detect_distress
from bot.nlu.training import NluPaths, NluSetupError, rasa_env

_SUMMARY_KEYS = ("accuracy", "macro avg", "weighted avg", "micro avg")


@dataclass(frozen=True)
class IntentScore:
    """Precision, recall and F1 of one intent on the test set."""

    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one evaluation run."""

    scores: list[IntentScore]
    macro_f1: float
    accuracy: float
    distress_support: int = 0
    distress_missed_by_rasa: list[str] = field(default_factory=list)
    distress_missed_overall: list[str] = field(default_factory=list)

    @property
    def distress_recall_rasa(self) -> float:
        """Share of distress test messages Rasa labelled distress."""
        if not self.distress_support:
            return 0.0
        return 1 - len(self.distress_missed_by_rasa) / self.distress_support

    @property
    def distress_recall_with_safety_net(self) -> float:
        """Share of distress test messages caught by Rasa or the safety net."""
        if not self.distress_support:
            return 0.0
        return 1 - len(self.distress_missed_overall) / self.distress_support


def rasa_test_command(paths: NluPaths, test_file: Path, out_dir: Path) -> list[str]:
    """The ``rasa test nlu`` command line."""
    return [
        str(paths.rasa_bin),
        "test",
        "nlu",
        "--nlu",
        str(test_file),
        "--model",
        str(paths.model),
        "--out",
        str(out_dir),
        "--no-plot",
    ]


def run_rasa_test(paths: NluPaths, test_file: Path, out_dir: Path) -> None:
    """Run ``rasa test nlu`` into ``out_dir``; raise with the log tail on failure."""
    out_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        rasa_test_command(paths, test_file, out_dir),
        cwd=paths.root,
        env=rasa_env(paths),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not (out_dir / "intent_report.json").is_file():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise NluSetupError(f"rasa test nlu failed (exit {done.returncode}):\n{tail}")


def read_report(out_dir: Path) -> Evaluation:
    """Build an :class:`Evaluation` from Rasa's report files in ``out_dir``."""
    report: dict[str, Any] = json.loads((out_dir / "intent_report.json").read_text("utf-8"))
    scores = [
        IntentScore(
            intent=name,
            precision=float(values["precision"]),
            recall=float(values["recall"]),
            f1=float(values["f1-score"]),
            support=int(values["support"]),
        )
        for name, values in sorted(report.items())
        if name not in _SUMMARY_KEYS and isinstance(values, dict)
    ]
    errors_file = out_dir / "intent_errors.json"
    errors: list[dict[str, Any]] = (
        json.loads(errors_file.read_text("utf-8")) if errors_file.is_file() else []
    )
    missed = [e["text"] for e in errors if e.get("intent") == "distress"]
    distress = next((s for s in scores if s.intent == "distress"), None)
    return Evaluation(
        scores=scores,
        macro_f1=float(report["macro avg"]["f1-score"]),
        accuracy=float(report.get("accuracy", 0.0)),
        distress_support=distress.support if distress else 0,
        distress_missed_by_rasa=missed,
        distress_missed_overall=[text for text in missed if not detect_distress(text)],
    )


def evaluate(paths: NluPaths, out_dir: Path, test_file: Path | None = None) -> Evaluation:
    """Run the held-out evaluation and read its reports."""
    run_rasa_test(paths, test_file or paths.test_file, out_dir)
    return read_report(out_dir)
