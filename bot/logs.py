"""Logging set-up: secrets are masked everywhere, chatty libraries are quietened.

Secrets (the bot token, the webhook secret, the Rasa token) are masked in every
log record, its arguments and its traceback, by one filter that runs when a
record is created, so it covers every handler, even ones added later. Anything
shaped like a bot token in a Bot API URL is masked too, known or not.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from typing import Any

from bot.settings import Settings

_TOKEN_IN_URL = re.compile(r"bot\d+:[A-Za-z0-9_-]+")
MASK = "[secret]"
#: Loggers that write request URLs (the URL holds the bot token) at INFO or DEBUG.
#: fontTools (the PDF pages' font subsetting) logs the letters a page uses, from a
#: member's own words: never at INFO.
NOISY_LOGGERS = (
    "httpx",
    "httpcore",
    "telegram.ext.Updater",
    "apscheduler",
    "aiosqlite",
    "fontTools",
    "fpdf",
)


class SecretFilter(logging.Filter):
    """A logging filter that replaces every known secret in a record with ``[secret]``.

    It rewrites the message, the arguments and any exception text, and always lets
    the record through.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Start with these secrets (empty strings are ignored)."""
        super().__init__()
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Mask these secrets too (very short strings are ignored: they are not secrets)."""
        self._secrets.update(s for s in secrets if s and len(s) >= 8)

    def mask(self, text: str) -> str:
        """The text with every secret (and anything shaped like a bot token) replaced."""
        if "bot" in text:
            text = _TOKEN_IN_URL.sub(f"bot{MASK}", text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record in place; never drops it."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw parts
            message = f"{record.msg} {record.args}"
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


_FILTER = SecretFilter()
_installed = False


def protect_logs(*secrets: str) -> SecretFilter:
    """Mask these secrets in every log record from now on and quieten URL-logging libraries.

    The filter runs when a record is created (so it covers every handler, even
    ones added later) and is also attached to the root logger's handlers.
    """
    global _installed
    _FILTER.add(*secrets)
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    if not _installed:
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            """Create the record as before, then mask it."""
            record = previous(*args, **kwargs)
            _FILTER.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    return _FILTER


def setup_logging(settings: Settings) -> None:
    """Configure the root logger once; every secret in the settings is masked from now on."""
    root = logging.getLogger()
    if not root.handlers:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(stream)
    root.setLevel(settings.log_level.upper())
    protect_logs(
        settings.telegram_bot_token.get_secret_value(),
        settings.rasa_token.get_secret_value(),
        settings.webhook_secret.get_secret_value(),
    )
