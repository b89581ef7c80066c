"""The terminal chat and the CLI, end to end through the installed console script."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import yaml

SKILLSPARK = str(Path(sys.executable).parent / "skillspark")
ROOT = Path(__file__).resolve().parent.parent


def run_cli(
    args: list[str], tmp_path: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``skillspark ARGS`` with a database in ``tmp_path`` and no Rasa."""
    full_env = {
        **os.environ,
        "SKILLSPARK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
        "SKILLSPARK_NLU_ENABLED": "false",
        "TELEGRAM_BOT_TOKEN": "",
        **env,
    }
    return subprocess.run(
        [SKILLSPARK, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )


def test_scripted_chat_onboards_and_resumes(tmp_path: Path) -> None:
    """Piped lines drive the chat; a second run resumes at the same question."""
    first = run_cli(
        ["chat", "--member", "t1"],
        tmp_path,
        # "I will read them" (2), the name, consent (1 = Yes), OK, OK, feeling by label,
        # the first topic (1), then "No" by label.
        stdin="2\nSam\n1\n1\n1\n🙂 OK\n1\n❌ No\n",
    )
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "What is your first name?" in out or "first name" in out
    assert "Sam" in out
    assert "1. ✅ Yes, that is OK" in out
    last_question = [line for line in out.splitlines() if line.startswith("SkillSpark:")][-1]

    second = run_cli(["chat", "--member", "t1"], tmp_path, stdin="")
    assert second.returncode == 0, second.stderr
    lines = [line for line in second.stdout.splitlines() if line.startswith("SkillSpark:")]
    assert "Sam" in lines[0]  # welcome back, by name
    assert lines[-1] == last_question

    db = sqlite3.connect(tmp_path / "chat.db")
    try:
        (consent,) = db.execute("SELECT consent FROM members WHERE local_id='t1'").fetchone()
        choices = [r[0] for r in db.execute("SELECT choice FROM answers ORDER BY id")]
    finally:
        db.close()
    assert consent == 1
    assert choices[-1] == "no" and "feel_ok" in choices


def test_run_without_token_falls_back_to_the_terminal_chat(tmp_path: Path) -> None:
    """`skillspark run` with no Telegram token says so and chats in the terminal."""
    result = run_cli(["run"], tmp_path, stdin="2\nRobin\n")
    assert result.returncode == 0, result.stderr
    assert "terminal" in result.stderr
    assert "Robin" in result.stdout


def test_db_upgrade_reports_the_revision(tmp_path: Path) -> None:
    """`skillspark db upgrade` creates the tables."""
    result = run_cli(["db", "upgrade"], tmp_path)
    assert result.returncode == 0, result.stderr
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"revision {head}" in result.stdout


def test_dialogues_check_is_clean_and_catches_problems(tmp_path: Path) -> None:
    """The content check passes on the project and names a broken link and a bad message."""
    ok = run_cli(["dialogues", "check"], tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    broken = tmp_path / "dialogues"
    shutil.copytree(ROOT / "dialogues", broken)
    flow = broken / "flows" / "onboarding.yml"
    data = yaml.safe_load(flow.read_text(encoding="utf-8"))
    data["steps"][0]["next"] = "nowhere"
    flow.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    messages = broken / "en" / "messages.yml"
    text = messages.read_text(encoding="utf-8")
    messages.write_text(
        text + "\nextra.bad: \"Don't utilise the FAQ, it's a piece of cake.\"\n", encoding="utf-8"
    )
    bad = run_cli(["dialogues", "check", "--path", str(broken)], tmp_path)
    assert bad.returncode != 0
    report = bad.stdout + bad.stderr
    assert "unknown step 'nowhere'" in report
    assert "extra.bad" in report
