"""One settings object for the whole application, read from the environment.

Every variable is documented in README.md with its default. Secrets (the bot
token, the Rasa token, the webhook secret) are ``SecretStr`` so they never
print in a repr or a log line.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The project root (the folder holding ``dialogues/``, ``nlu/``, ``config.yml``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Telegram allows 1-256 of these characters in a webhook secret; SkillSpark asks
#: for 16 or more, so it is hard to guess and always masked in logs (bot.logs).
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{16,256}")
MAKE_A_SECRET = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'


class Settings(BaseSettings):
    """Application settings; environment variables and an optional ``.env`` file."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,  # a bad secret must not be printed back in the error
    )

    # --- storage
    database_url: str = Field(
        default="",
        alias="SKILLSPARK_DATABASE_URL",
        description="SQLAlchemy async URL; empty means the SQLite file under data/.",
    )
    data_dir: Path = Field(default=PROJECT_ROOT / "data", alias="SKILLSPARK_DATA_DIR")

    # --- content
    dialogues_dir: Path = Field(
        default=PROJECT_ROOT / "dialogues", alias="SKILLSPARK_DIALOGUES_DIR"
    )
    default_language: str = Field(default="en", alias="SKILLSPARK_LANGUAGE")
    default_network: str = Field(default="default", alias="SKILLSPARK_NETWORK")

    # --- NLU (Rasa)
    rasa_url: str = Field(default="", alias="SKILLSPARK_RASA_URL")
    rasa_token: SecretStr = Field(default=SecretStr(""), alias="SKILLSPARK_RASA_TOKEN")
    rasa_port: int = Field(default=5005, alias="SKILLSPARK_RASA_PORT")
    rasa_venv: Path = Field(default=PROJECT_ROOT / ".venv-rasa", alias="SKILLSPARK_RASA_VENV")
    models_dir: Path = Field(default=PROJECT_ROOT / "models", alias="SKILLSPARK_MODELS_DIR")
    nlu_enabled: bool = Field(default=True, alias="SKILLSPARK_NLU_ENABLED")
    nlu_threshold: float = Field(default=0.6, alias="SKILLSPARK_NLU_THRESHOLD")
    nlu_timeout_s: float = Field(default=1.5, alias="SKILLSPARK_NLU_TIMEOUT")

    # --- Telegram
    telegram_bot_token: SecretStr = Field(default=SecretStr(""), alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = Field(default="", alias="TELEGRAM_API_BASE_URL")
    webhook_url: str = Field(default="", alias="SKILLSPARK_WEBHOOK_URL")
    webhook_secret: SecretStr = Field(default=SecretStr(""), alias="SKILLSPARK_WEBHOOK_SECRET")
    webhook_listen: str = Field(default="127.0.0.1", alias="SKILLSPARK_WEBHOOK_LISTEN")
    webhook_port: int = Field(default=8443, alias="SKILLSPARK_WEBHOOK_PORT")

    # --- conversation
    session_gap_hours: float = Field(default=12.0, alias="SKILLSPARK_SESSION_GAP_HOURS")
    rating_gap_minutes: float = Field(default=30.0, alias="SKILLSPARK_RATING_GAP_MINUTES", ge=0)
    max_text_chars: int = Field(default=2000, alias="SKILLSPARK_MAX_TEXT_CHARS")
    staff_contact: str = Field(default="your support worker", alias="SKILLSPARK_STAFF_CONTACT")

    # --- safeguarding and data rights
    retention_months: int = Field(default=24, alias="SKILLSPARK_RETENTION_MONTHS")
    alert_sweep_seconds: float = Field(default=15.0, alias="SKILLSPARK_ALERT_SWEEP_SECONDS")

    # --- nudges (docs/nudges.md): member defaults, sweep intervals, sending rate
    nudge_timezone: str = Field(default="Europe/London", alias="SKILLSPARK_NUDGE_TIMEZONE")
    nudge_time: str = Field(default="11:00", alias="SKILLSPARK_NUDGE_TIME")
    nudge_quiet_start: str = Field(default="20:00", alias="SKILLSPARK_NUDGE_QUIET_START")
    nudge_quiet_end: str = Field(default="09:00", alias="SKILLSPARK_NUDGE_QUIET_END")
    nudge_weekly_cap: int = Field(default=2, ge=0, alias="SKILLSPARK_NUDGE_WEEKLY_CAP")
    nudge_rate: float = Field(default=28.0, gt=0, le=30, alias="SKILLSPARK_NUDGE_RATE")
    nudge_plan_seconds: float = Field(default=60.0, gt=0, alias="SKILLSPARK_NUDGE_PLAN_SECONDS")
    nudge_plan_per_sweep: int = Field(default=3000, ge=0, alias="SKILLSPARK_NUDGE_PLAN_PER_SWEEP")
    nudge_sweep_seconds: float = Field(default=5.0, gt=0, alias="SKILLSPARK_NUDGE_SWEEP_SECONDS")
    nudge_match_minutes: float = Field(default=60.0, gt=0, alias="SKILLSPARK_NUDGE_MATCH_MINUTES")
    nudge_max_open_matches: int = Field(default=2, ge=0, alias="SKILLSPARK_NUDGE_MAX_OPEN_MATCHES")

    @field_validator("nudge_time", "nudge_quiet_start", "nudge_quiet_end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        """A time of day as ``HH:MM`` (24-hour clock)."""
        hours, sep, minutes = value.strip().partition(":")
        if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
            raise ValueError("use HH:MM, for example 11:00")
        if not (0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
            raise ValueError("use a time from 00:00 to 23:59")
        return f"{int(hours):02d}:{minutes}"

    @field_validator("nudge_timezone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        """A time zone this machine knows (``zoneinfo``), such as ``Europe/London``."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr) -> SecretStr:
        """Empty (a random secret per run) or 16-256 of A-Z, a-z, 0-9, ``_`` and ``-``."""
        secret = value.get_secret_value()
        if secret and not _WEBHOOK_SECRET.fullmatch(secret):
            raise ValueError(
                f"use 16 to 256 characters, only letters A-Z and a-z, digits 0-9, _ and - "
                f"(this one has {len(secret)} characters). Make one with: {MAKE_A_SECRET}"
            )
        return value

    # --- speech: read-aloud voice notes (bot/speech, docs/speech.md)
    speech_enabled: bool = Field(default=True, alias="SKILLSPARK_SPEECH_ENABLED")
    speech_voice: str = Field(default="en-gb", alias="SKILLSPARK_SPEECH_VOICE")
    speech_speed: int = Field(default=140, ge=80, le=450, alias="SKILLSPARK_SPEECH_SPEED")
    speech_cache_dir: Path | None = Field(default=None, alias="SKILLSPARK_SPEECH_CACHE_DIR")
    speech_workers: int = Field(default=1, ge=1, le=8, alias="SKILLSPARK_SPEECH_WORKERS")
    speech_max_voice_in_bytes: int = Field(
        default=1_000_000, ge=0, alias="SKILLSPARK_SPEECH_MAX_VOICE_IN_BYTES"
    )

    @field_validator("speech_cache_dir", mode="before")
    @classmethod
    def _speech_cache_dir(cls, value: object) -> object:
        """An empty value means the default (``<data dir>/speech``), not the current folder."""
        return None if isinstance(value, str) and not value.strip() else value

    # --- staff desk (docs/desk.md): web pages for staff, off unless a secret is set
    desk_enabled: bool = Field(default=False, alias="SKILLSPARK_DESK_ENABLED")
    desk_listen: str = Field(default="127.0.0.1", alias="SKILLSPARK_DESK_LISTEN")
    desk_port: int = Field(default=8080, ge=1, le=65535, alias="SKILLSPARK_DESK_PORT")
    desk_secret: SecretStr = Field(default=SecretStr(""), alias="SKILLSPARK_DESK_SECRET")
    desk_public_url: str = Field(default="", alias="SKILLSPARK_DESK_PUBLIC_URL")
    desk_inactive_weeks: int = Field(default=4, ge=1, alias="SKILLSPARK_DESK_INACTIVE_WEEKS")

    @field_validator("desk_secret")
    @classmethod
    def _desk_secret(cls, value: SecretStr) -> SecretStr:
        """Empty (no desk) or at least 32 characters, so the cookies cannot be forged."""
        secret = value.get_secret_value()
        if secret and len(secret) < 32:
            raise ValueError(
                f"use 32 or more characters (this one has {len(secret)}). "
                f"Make one with: {MAKE_A_SECRET}"
            )
        return value

    def desk_url(self) -> str:
        """Where staff open the desk (for sign-in links): the public URL or the local one."""
        if self.desk_public_url:
            return self.desk_public_url.rstrip("/")
        return f"http://{self.desk_listen}:{self.desk_port}"

    # --- fonts for the picture card and the PDF pages (bot/skills/card.py, bot/staff/pdf_export.py)
    font_dirs: str = Field(
        default="",
        alias="SKILLSPARK_FONT_DIRS",
        description="Font folders separated by ':'; empty means the system's font folders.",
    )

    def font_folders(self) -> tuple[Path, ...] | None:
        """The folders ``SKILLSPARK_FONT_DIRS`` names, or None for the system's font folders."""
        parts = [p.strip() for p in self.font_dirs.split(os.pathsep) if p.strip()]
        return tuple(Path(p).expanduser() for p in parts) or None

    # --- logging
    log_level: str = Field(default="INFO", alias="SKILLSPARK_LOG_LEVEL")

    # --- several processes, health and stopping (docs/deploy.md)
    process_id: str = Field(
        default="",
        max_length=96,
        alias="SKILLSPARK_PROCESS_ID",
        description="This process in the lease tables; empty means host:pid:random.",
    )
    lease_seconds: float = Field(default=30.0, ge=1, le=3600, alias="SKILLSPARK_LEASE_SECONDS")
    inbox_sweep_seconds: float = Field(
        default=0.5, gt=0, le=60, alias="SKILLSPARK_INBOX_SWEEP_SECONDS"
    )
    stop_seconds: float = Field(default=15.0, ge=0, le=600, alias="SKILLSPARK_STOP_SECONDS")
    health_port: int = Field(default=0, ge=0, le=65535, alias="SKILLSPARK_HEALTH_PORT")

    def effective_database_url(self) -> str:
        """The database URL to use: the configured one (with an async driver) or the SQLite default.

        ``sqlite:///x.db`` and ``postgresql://...`` are accepted: the async driver
        is filled in (``storage.db.async_url``; the start-up log says so once).
        """
        if self.database_url:
            from storage.db import async_url

            return async_url(self.database_url)
        return f"sqlite+aiosqlite:///{self.data_dir / 'skillspark.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
