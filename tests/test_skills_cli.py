"""``skillspark skills ...`` from the command line: extract, evaluate, card."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from bot.settings import PROJECT_ROOT
from bot.skills.cli import skills_app

runner = CliRunner()


def test_extract_json_through_the_real_command() -> None:
    """`python -m bot.cli skills extract TEXT --json` prints the skills as JSON."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "skills",
            "extract",
            "i does the cookin for my mum",
            "--json",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["skill"] for r in rows] == ["cooking_meals", "looking_after_people"]
    assert set(rows[0]) == {"skill", "label", "category", "evidence", "learning_wish"}
    assert rows[0]["evidence"] == "cookin for"
    assert rows[1]["category"] == "caring"


def test_extract_marks_learning_wishes() -> None:
    """A wish comes back with learning_wish true."""
    result = runner.invoke(skills_app, ["extract", "id like to learn to swim", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["skill"], r["learning_wish"]) for r in rows] == [("swimming", True)]


def test_extract_plain_output_and_nothing_found() -> None:
    """Without --json the command prints readable lines, or says nothing was found."""
    found = runner.invoke(skills_app, ["extract", "i walk the dog"])
    assert found.exit_code == 0
    assert "walking_dogs" in found.stdout and "animals" in found.stdout
    empty = runner.invoke(skills_app, ["extract", "hello there"])
    assert empty.exit_code == 0
    assert "no skills found" in empty.stdout


def test_extract_with_a_broken_taxonomy_fails_clearly(tmp_path: Path) -> None:
    """A bad --taxonomy file gives exit code 2 and the problem, not a traceback."""
    bad = tmp_path / "skills.yml"
    bad.write_text("categories: {}\nskills: []\n", encoding="utf-8")
    result = runner.invoke(skills_app, ["extract", "i cook", "--taxonomy", str(bad)])
    assert result.exit_code == 2
    assert "cannot load the taxonomy" in result.output


def test_evaluate_prints_scores_per_category() -> None:
    """`evaluate --json` scores the annotated sentences per category and overall."""
    result = runner.invoke(skills_app, ["evaluate", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["sentences"] >= 200
    assert {"precision", "recall", "f1"} <= set(report["overall"])
    assert len(report["per_category"]) == 19


def test_evaluate_check_fails_below_target(tmp_path: Path) -> None:
    """`evaluate --check` exits 1 when the finder misses the targets."""
    sentences = tmp_path / "hard.yml"
    sentences.write_text(
        "sentences:\n"
        "- {text: 'xyzzy plugh', categories: [cooking]}\n"
        "- {text: 'qwerty', categories: [music]}\n",
        encoding="utf-8",
    )
    result = runner.invoke(skills_app, ["evaluate", "--sentences", str(sentences), "--check"])
    assert result.exit_code == 1
    assert "below target" in result.output


def test_card_command_writes_a_png(tmp_path: Path) -> None:
    """`card NAME --skill ID --out FILE` writes a PNG picture."""
    out = tmp_path / "card.png"
    result = runner.invoke(
        skills_app,
        [
            "card",
            "Sam",
            "--skill",
            "baking",
            "--skill",
            "walking_dogs",
            "--wish",
            "swimming",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    unknown = runner.invoke(skills_app, ["card", "Sam", "--skill", "nope", "--out", str(out)])
    assert unknown.exit_code == 2
