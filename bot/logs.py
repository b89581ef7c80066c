"""Logging set-up: secrets are masked everywhere, chatty libraries are quietened."""

from __future__ import annotations

import logging
import re

from bot.settings import Settings

_TOKEN_IN_URL = re.compile(r"bot\d+:[A-Za-z0-9_-]+")


class SecretFilter(logging.Filter):
    """Replaces known secrets (and anything shaped like a bot token) in log records."""

    def __init__(self, secrets: list[str]) -> None:
        """Remember the secrets to hide (empty ones are ignored)."""
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask secrets in the formatted message; always keep the record."""
        message = record.getMessage()
        masked = _TOKEN_IN_URL.sub("bot***", message)
        for secret in self.secrets:
            masked = masked.replace(secret, "***")
        if masked != message:
            record.msg = masked
            record.args = None
        return True


def setup_logging(settings: Settings) -> None:
    """Configure the root logger once, with the secret filter on every handler."""
    root = logging.getLogger()
    secrets = [
        settings.telegram_bot_token.get_secret_value(),
        settings.rasa_token.get_secret_value(),
        settings.webhook_secret.get_secret_value(),
    ]
    if not any(isinstance(f, SecretFilter) for h in root.handlers for f in h.filters):
        if not root.handlers:
            stream = logging.StreamHandler()
            stream.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
            root.addHandler(stream)
        for handler in root.handlers:
            handler.addFilter(SecretFilter(secrets))
    root.setLevel(settings.log_level.upper())
    for noisy in ("httpx", "httpcore", "telegram.ext.Updater", "apscheduler", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
