"""An operator's mistake stops ``skillspark run`` with one clear line and exit code 2 (issue 16)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from bot import preflight
from bot.preflight import StartupError
from bot.settings import Settings
from bot.skills import card
from storage.db import UnsupportedDatabase, async_url, make_engine
from tests.botapi_peer import TOKEN
from tests.conftest import needs_tool
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


def test_speech_switched_on_in_a_dotenv_file_without_espeak_ng(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SKILLSPARK_SPEECH_ENABLED=true\n", encoding="utf-8")
    line = the_line(run_bot(tmp_path, PATH=str(tmp_path / "empty-bin")))
    assert "espeak-ng is not installed" in line


def line_without_espeak_ng(tmp_path: Path) -> str:
    """The start-up line with no espeak-ng and a Rasa URL that does not answer (checked next)."""
    return the_line(
        run_bot(
            tmp_path,
            PATH=str(tmp_path / "empty-bin"),
            SKILLSPARK_NLU_ENABLED="true",
            SKILLSPARK_RASA_URL=f"http://127.0.0.1:{free_port()}",
        )
    )


def test_speech_left_at_its_default_does_not_stop_a_machine_without_espeak_ng(
    tmp_path: Path,
) -> None:
    """The default (on) degrades to text only: a fresh machine without root still runs."""
    line = line_without_espeak_ng(tmp_path)
    assert "the Rasa server at" in line  # the next check: a missing espeak-ng was let be


def test_speech_switched_off_in_a_dotenv_file_is_not_checked(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SKILLSPARK_SPEECH_ENABLED=false\n", encoding="utf-8")
    line = line_without_espeak_ng(tmp_path)
    assert "the Rasa server at" in line  # the next check: speech was left alone


def test_a_missing_font_stops_the_bot(tmp_path: Path) -> None:
    empty = tmp_path / "no-fonts"
    empty.mkdir()
    line = the_line(run_bot(tmp_path, SKILLSPARK_FONT_DIRS=str(empty)))
    assert f"no font for the picture card in {empty}: install fonts-dejavu-core" in line
    assert "SKILLSPARK_FONT_DIRS" in line


def test_a_missing_font(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(card, "find_font", lambda names: None)
    with pytest.raises(StartupError, match="no font for the picture card"):
        preflight.check_fonts(Settings(_env_file=None))


@needs_tool(
    card.find_font(("DejaVuSans-Bold.ttf",)) is not None,
    "fonts-dejavu-core is not installed (make fonts installs it)",
)
def test_the_font_folders_setting_reaches_the_card_and_the_pdf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.staff.pdf_export as pdf_export

    system = card.find_font(("DejaVuSans-Bold.ttf",))
    assert system is not None
    mine = tmp_path / "fonts"
    mine.mkdir()
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf"):
        (mine / name).symlink_to(system.parent / name)
    monkeypatch.setattr(card, "_FONT_DIRS", card._FONT_DIRS)  # restored afterwards
    monkeypatch.setattr(pdf_export, "FONT_DIRS", pdf_export.FONT_DIRS)
    try:
        settings = Settings(_env_file=None, SKILLSPARK_FONT_DIRS=f"{tmp_path / 'none'}:{mine}")
        preflight.check_fonts(settings)
        assert card.find_font(card._TEXT_FONTS) == mine / "DejaVuSans-Bold.ttf"
        pdf_fonts = pdf_export.find_fonts().text
        assert pdf_fonts is not None and {p.parent for p in pdf_fonts.values()} == {mine}
    finally:
        monkeypatch.undo()
        for cached in (card.find_font, card._text_font, card._emoji_font, pdf_export.find_fonts):
            cached.cache_clear()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://skillspark:pw-not-shown@127.0.0.1/skillspark",
        "mysql://skillspark:pw-not-shown@127.0.0.1/skillspark",
        "postgresql+pg8000://skillspark:pw-not-shown@127.0.0.1/skillspark",
        "mysql+aiomysql://skillspark:pw-not-shown@127.0.0.1/skillspark",
        "not a url pw-not-shown",
    ],
)
def test_a_database_skillspark_does_not_run_on(tmp_path: Path, url: str) -> None:
    line = the_line(run_bot(tmp_path, SKILLSPARK_DATABASE_URL=url))
    assert "SkillSpark supports SQLite and PostgreSQL: set SKILLSPARK_DATABASE_URL to " in line
    assert "sqlite+aiosqlite:///" in line and "postgresql+psycopg://" in line
    assert "pw-not-shown" not in line


def test_a_database_driver_that_is_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a)
    )
    with pytest.raises(UnsupportedDatabase, match="its driver psycopg is not installed"):
        make_engine("postgresql://skillspark:pw@127.0.0.1/skillspark")


def test_a_shared_webhook_on_postgresql_needs_a_fixed_secret(tmp_path: Path) -> None:
    line = the_line(
        run_bot(
            tmp_path,
            SKILLSPARK_DATABASE_URL=f"postgresql://skillspark@127.0.0.1:{free_port()}/skillspark",
            SKILLSPARK_WEBHOOK_URL="https://bots.example.org/skillspark/hook",
            SKILLSPARK_WEBHOOK_PORT=str(free_port()),
        )
    )
    assert "SKILLSPARK_WEBHOOK_SECRET is empty: with a webhook on PostgreSQL" in line
    assert "Set SKILLSPARK_WEBHOOK_SECRET to the same value in each" in line


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        (
            {
                "SKILLSPARK_WEBHOOK_URL": "https://x.org/h",
                "SKILLSPARK_DATABASE_URL": "postgresql://h/d",
            },
            True,
        ),
        (
            {
                "SKILLSPARK_WEBHOOK_URL": "https://x.org/h",
                "SKILLSPARK_DATABASE_URL": "sqlite:///x.db",
            },
            False,
        ),
        ({"SKILLSPARK_WEBHOOK_URL": "", "SKILLSPARK_DATABASE_URL": "postgresql://h/d"}, False),
        (
            {
                "SKILLSPARK_WEBHOOK_URL": "https://x.org/h",
                "SKILLSPARK_DATABASE_URL": "postgresql://h/d",
                "SKILLSPARK_WEBHOOK_SECRET": "a-fixed-secret-for-all-bots",
            },
            False,
        ),
    ],
)
def test_which_webhooks_need_a_fixed_secret(env: dict[str, str], refused: bool) -> None:
    settings = Settings(_env_file=None, **{"SKILLSPARK_WEBHOOK_SECRET": "", **env})
    if refused:
        with pytest.raises(StartupError, match="SKILLSPARK_WEBHOOK_SECRET is empty"):
            preflight.check_webhook_secret(settings)
    else:
        preflight.check_webhook_secret(settings)


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
