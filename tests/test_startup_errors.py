"""An operator's mistake stops ``skillspark run`` with one clear line and exit code 2 (issue 16)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from bot import preflight
from bot.preflight import StartupError
from storage.db import async_url
from tests.botapi_peer import TOKEN
from tests.multi_bots import free_port

ROOT = Path(__file__).resolve().parent.parent
SKILLSPARK = ROOT / ".venv" / "bin" / "skillspark"


def run_bot(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``skillspark run`` with a token and ``env``; Telegram is never reached."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLSPARK_", "TELEGRAM_"))}
    clean.update(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{free_port()}",
            "SKILLSPARK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            "SKILLSPARK_DATA_DIR": str(tmp_path / "data"),
            "SKILLSPARK_NLU_ENABLED": "false",
            **env,
        }
    )
    return subprocess.run(
        [str(SKILLSPARK), "run"],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def the_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one error line; exit code 2 and no traceback."""
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if "cannot start" in line]
    assert len(lines) == 1, done.stderr[-3000:]
    return lines[0]


def test_a_database_that_cannot_be_reached(tmp_path: Path) -> None:
    url = f"postgresql://skillspark:pw-not-shown@127.0.0.1:{free_port()}/skillspark"
    line = the_line(run_bot(tmp_path, SKILLSPARK_DATABASE_URL=url))
    assert "cannot reach the database (postgresql+psycopg at 127.0.0.1:" in line
    assert "pw-not-shown" not in line


def test_migrations_newer_than_the_code(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999')")
    line = the_line(run_bot(tmp_path, SKILLSPARK_DATABASE_URL=f"sqlite:///{db}"))
    assert "revision 9999, newer than this SkillSpark knows" in line


def test_a_rasa_url_that_does_not_answer_and_a_url_without_async_driver(
    tmp_path: Path,
) -> None:
    done = run_bot(
        tmp_path,
        SKILLSPARK_DATABASE_URL=f"sqlite:///{tmp_path / 'plain.db'}",
        SKILLSPARK_NLU_ENABLED="true",
        SKILLSPARK_RASA_URL=f"http://127.0.0.1:{free_port()}",
    )
    line = the_line(done)
    assert "the Rasa server at http://127.0.0.1:" in line and "does not answer" in line
    assert "has no async driver; using sqlite+aiosqlite" in done.stderr


def test_speech_switched_on_without_espeak_ng(tmp_path: Path) -> None:
    line = the_line(
        run_bot(tmp_path, SKILLSPARK_SPEECH_ENABLED="true", PATH=str(tmp_path / "empty-bin"))
    )
    assert "espeak-ng is not installed" in line


def test_a_missing_font(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.skills.card as card

    monkeypatch.setattr(card, "find_font", lambda names: None)
    with pytest.raises(StartupError, match="no font for the picture card"):
        preflight.check_fonts()


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_plain_database_urls_get_an_async_driver(given: str, used: str) -> None:
    assert async_url(given) == used
