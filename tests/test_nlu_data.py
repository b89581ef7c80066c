"""The NLU training data, the held-out test set, and the training fingerprint."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from bot.nlu.training import (
    PROJECT_ROOT,
    NluPaths,
    NluSetupError,
    ensure_trained,
    fingerprint,
    is_up_to_date,
    training_files,
)
from bot.types import INTENTS

PATHS = NluPaths(root=PROJECT_ROOT, models_dir=PROJECT_ROOT / "models", venv=Path("/nonexistent"))
_ANNOTATION = re.compile(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})")


def _examples(files: list[Path]) -> dict[str, list[str]]:
    """Intent -> raw example lines (annotations kept) from Rasa NLU files."""
    found: dict[str, list[str]] = {}
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert data["version"] == "3.1", path
        for block in data.get("nlu", []):
            if "intent" in block:
                lines = [
                    line.strip()[2:].strip()
                    for line in str(block["examples"]).splitlines()
                    if line.strip().startswith("- ")
                ]
                found.setdefault(block["intent"], []).extend(lines)
    return found


def _plain(text: str) -> str:
    """An example without entity annotations, lowercased."""
    return _ANNOTATION.sub(r"\1", text).strip().lower()


TRAIN = _examples(training_files(PATHS))
HELD_OUT = _examples([PATHS.test_file])


def test_every_intent_has_at_least_30_examples() -> None:
    """Each of the fixed intents (Rasa adds nlu_fallback itself) is well covered."""
    wanted = set(INTENTS) - {"nlu_fallback"}
    assert set(TRAIN) == wanted
    thin = {intent: len(lines) for intent, lines in TRAIN.items() if len(lines) < 30}
    assert thin == {}


def test_no_duplicate_examples_across_intents() -> None:
    """One sentence never teaches two different intents."""
    owner: dict[str, str] = {}
    clashes = []
    for intent, lines in TRAIN.items():
        for line in lines:
            text = _plain(line)
            if owner.setdefault(text, intent) != intent:
                clashes.append((text, owner[text], intent))
    assert clashes == []


@pytest.mark.parametrize("intent", ["tell_activity", "want_to_learn"])
def test_activities_are_annotated(intent: str) -> None:
    """Most activity examples mark the activity so Rasa learns to extract it."""
    annotated = [line for line in TRAIN[intent] if "(activity)" in line or '"activity"' in line]
    assert len(annotated) >= 0.8 * len(TRAIN[intent])


def test_held_out_set_is_separate_from_training() -> None:
    """The test set covers every intent and shares no sentence with training."""
    assert set(HELD_OUT) == set(TRAIN)
    seen = {_plain(line) for lines in TRAIN.values() for line in lines}
    overlap = [line for lines in HELD_OUT.values() for line in lines if _plain(line) in seen]
    assert overlap == []
    assert PATHS.test_file not in training_files(PATHS)
    assert not PATHS.test_file.is_relative_to(PATHS.training_dir)


def _copy_project(tmp_path: Path) -> NluPaths:
    """A copy of the NLU inputs in a temporary project root."""
    (tmp_path / "nlu").mkdir()
    shutil.copytree(PATHS.training_dir, tmp_path / "nlu" / "data")
    shutil.copy(PATHS.requirements, tmp_path / "nlu" / "requirements-rasa.txt")
    shutil.copy(PATHS.config, tmp_path / "config.yml")
    return NluPaths(root=tmp_path, models_dir=tmp_path / "models", venv=tmp_path / "no-venv")


def test_fingerprint_follows_data_and_config(tmp_path: Path) -> None:
    """Editing training data or the pipeline changes the fingerprint; nothing else does."""
    paths = _copy_project(tmp_path)
    first = fingerprint(paths)
    assert fingerprint(paths) == first
    (tmp_path / "README.md").write_text("unrelated", encoding="utf-8")
    assert fingerprint(paths) == first
    greet = paths.training_dir / "basics.yml"
    greet.write_text(greet.read_text(encoding="utf-8") + "    - hey up\n", encoding="utf-8")
    second = fingerprint(paths)
    assert second != first
    paths.config.write_text(paths.config.read_text(encoding="utf-8") + "\n# note\n", "utf-8")
    assert fingerprint(paths) not in (first, second)


def test_stale_or_missing_model_is_not_up_to_date(tmp_path: Path) -> None:
    """Without a model, or with a fingerprint from other inputs, training is due."""
    paths = _copy_project(tmp_path)
    assert not is_up_to_date(paths)
    paths.models_dir.mkdir()
    paths.model.write_bytes(b"model")
    paths.fingerprint_file.write_text('{"fingerprint": "old"}', encoding="utf-8")
    assert not is_up_to_date(paths)
    paths.fingerprint_file.write_text(f'{{"fingerprint": "{fingerprint(paths)}"}}', "utf-8")
    assert is_up_to_date(paths)


def test_training_without_the_rasa_environment_says_what_to_run(tmp_path: Path) -> None:
    """No .venv-rasa: a clear error naming the set-up command."""
    with pytest.raises(NluSetupError, match="skillspark nlu setup"):
        ensure_trained(_copy_project(tmp_path))
