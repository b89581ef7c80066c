"""Start-up checks: an operator's mistake stops ``skillspark run`` with one clear line and exit 2.

Each check raises :class:`StartupError` with a message that says what is wrong
and what to do; ``skillspark run`` logs it as one line (no traceback) and
exits with code 2. Secrets and passwords are never part of a message.
"""

from __future__ import annotations

import logging
import shutil

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import MAKE_A_SECRET, Settings, get_settings

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """SkillSpark cannot start as configured (the message says why and what to do)."""


def where(url: str) -> str:
    """The database's place for messages: driver, host, port and name, never the password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database}"
    host = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    return f"{parsed.drivername} at {host}/{parsed.database}"


def note_driver(settings: Settings) -> None:
    """Say once which async driver was filled into a database URL that had none."""
    given = settings.database_url
    used = settings.effective_database_url()
    if given and used != given:
        chosen = make_url(used).drivername
        log.info("SKILLSPARK_DATABASE_URL has no async driver; using %s", chosen)


def check_speech(settings: Settings | None = None) -> None:
    """Read-aloud needs ``espeak-ng`` when the operator turned it on themselves.

    ``SKILLSPARK_SPEECH_ENABLED=true`` in the environment or ``.env`` makes a
    missing espeak-ng a start-up error. Left at its default (on), a machine
    without espeak-ng still runs: replies go as text, and the log says so once
    (``bot/speech``), so ``make run`` works on a fresh machine without root.
    """
    settings = settings or get_settings()
    if not settings.speech_enabled or "speech_enabled" not in settings.model_fields_set:
        return
    if shutil.which("espeak-ng") is None:
        raise StartupError(
            "SKILLSPARK_SPEECH_ENABLED is on but espeak-ng is not installed "
            "(apt-get install espeak-ng, or set SKILLSPARK_SPEECH_ENABLED=false)"
        )


def use_font_dirs(settings: Settings) -> None:
    """Point the picture card and the PDF pages at ``SKILLSPARK_FONT_DIRS`` when it is set."""
    folders = settings.font_folders()
    if folders is None:
        return
    from bot.skills import card
    from bot.staff import pdf_export

    card.use_font_dirs(folders)
    pdf_export.use_font_dirs(folders)


def check_fonts(settings: Settings | None = None) -> None:
    """The picture card needs a text font (``make fonts`` installs it)."""
    settings = settings or get_settings()
    use_font_dirs(settings)
    from bot.skills.card import _TEXT_FONTS, find_font

    if find_font(_TEXT_FONTS) is None:
        folders = settings.font_folders()
        where = " or ".join(str(f) for f in folders) if folders else "the system font folders"
        raise StartupError(
            f"no font for the picture card in {where}: install fonts-dejavu-core (make fonts)"
            + (", or fix SKILLSPARK_FONT_DIRS" if folders else "")
        )


def check_webhook_secret(settings: Settings) -> None:
    """Several processes behind one webhook (PostgreSQL) must share one fixed secret."""
    from storage.db import is_sqlite

    url = settings.effective_database_url()
    if not settings.webhook_url or settings.webhook_secret.get_secret_value() or is_sqlite(url):
        return
    raise StartupError(
        "SKILLSPARK_WEBHOOK_SECRET is empty: with a webhook on PostgreSQL every bot process "
        "needs the same fixed secret (each would register a random one of its own). "
        f"Set SKILLSPARK_WEBHOOK_SECRET to the same value in each; make one with: {MAKE_A_SECRET}"
    )


async def check_database(db: AsyncEngine, url: str) -> None:
    """The database answers, and its schema is not newer than this code."""
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config, current_revision

    try:
        current = await current_revision(db)
    except Exception as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        first = reason[0][:160] if reason else type(exc).__name__
        raise StartupError(f"cannot reach the database ({where(url)}): {first}") from None
    if current is None:
        return
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current not in known:
        raise StartupError(
            f"the database schema is at revision {current}, newer than this SkillSpark "
            "knows: run the newer SkillSpark, or restore a matching backup"
        )


async def check_rasa(settings: Settings) -> None:
    """A configured Rasa server answers ``GET /``."""
    if not settings.nlu_enabled or not settings.rasa_url:
        return
    from bot.nlu.client import RasaUnderstanding

    async with RasaUnderstanding(settings.rasa_url, None, timeout_s=3.0) as rasa:
        if not await rasa.healthy():
            raise StartupError(
                f"the Rasa server at {settings.rasa_url} does not answer "
                "(start it, fix SKILLSPARK_RASA_URL, or leave it empty)"
            )
