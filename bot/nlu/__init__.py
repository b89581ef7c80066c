"""Understanding member messages: safety net, rules, and the Rasa NLU server.

The composition root calls :func:`open_understanding` once:

- ``nlu_enabled`` false: rules only;
- ``rasa_url`` set: a client for that server (rules while it is away);
- otherwise: train the model if its inputs changed, start a local Rasa server,
  hand out the resilient client, and stop the server on exit. Without the Rasa
  environment (``.venv-rasa``) it says so loudly once and uses the rules.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from bot.nlu.client import RasaUnavailable, RasaUnderstanding, ResilientUnderstanding
from bot.nlu.rules import RuleUnderstanding
from bot.nlu.safety import detect_distress
from bot.nlu.server import RasaServer, RasaServerError, free_port, new_token, port_is_free
from bot.nlu.training import NluPaths, NluSetupError, ensure_trained
from bot.types import Understanding

__all__ = [
    "NluPaths",
    "NluSetupError",
    "RasaServer",
    "RasaUnavailable",
    "RasaUnderstanding",
    "ResilientUnderstanding",
    "RuleUnderstanding",
    "detect_distress",
    "open_understanding",
]

log = logging.getLogger(__name__)


def _secret(value: Any) -> str:
    """The plain value of a ``SecretStr`` (or a plain string), '' when unset."""
    if value is None:
        return ""
    getter = getattr(value, "get_secret_value", None)
    return str(getter() if callable(getter) else value)


def open_understanding(settings: Any) -> AbstractAsyncContextManager[Understanding]:
    """Open the configured understanding for the app's lifetime (see module doc)."""
    return _open(settings)


@asynccontextmanager
async def _open(settings: Any) -> AsyncIterator[Understanding]:
    """Implementation of :func:`open_understanding`."""
    rules = RuleUnderstanding()
    timeout_s = float(getattr(settings, "nlu_timeout_s", 1.5))
    if not getattr(settings, "nlu_enabled", True):
        log.info("NLU is switched off (SKILLSPARK_NLU_ENABLED=false): using the simple rules.")
        yield rules
        return
    url = str(getattr(settings, "rasa_url", "") or "")
    token = _secret(getattr(settings, "rasa_token", None))
    if url:
        log.info("Using the Rasa NLU server at %s", url)
        async with RasaUnderstanding(url, token or None, timeout_s=timeout_s) as rasa:
            yield ResilientUnderstanding(rasa, rules)
        return

    server = await _start_local_server(settings, NluPaths.from_settings(settings), token)
    if server is None:
        yield rules
        return
    try:
        async with RasaUnderstanding(server.url, server.token, timeout_s=timeout_s) as rasa:
            yield ResilientUnderstanding(rasa, rules)
    finally:
        await server.stop()


async def _start_local_server(settings: Any, paths: NluPaths, token: str) -> RasaServer | None:
    """Train if needed and start a local server; ``None`` (and one log line) on failure."""
    if not paths.venv_ready():
        log.warning(
            "\n%s\nNo Rasa NLU environment at %s.\nSkillSpark will use its simple rules "
            "to understand members.\nTo get full understanding, run:  skillspark nlu setup"
            "   (or: bash scripts/setup-rasa-venv.sh)\n%s",
            "!" * 72,
            paths.venv,
            "!" * 72,
        )
        return None
    try:
        await asyncio.to_thread(ensure_trained, paths)
    except NluSetupError as exc:
        log.error("Could not train the NLU model; using the simple rules.\n%s", exc)
        return None
    port = int(getattr(settings, "rasa_port", 5005))
    if not port_is_free(port):
        chosen = free_port()
        log.warning("Port %s is busy; starting the Rasa NLU server on port %s.", port, chosen)
        port = chosen
    server = RasaServer(paths, port=port, token=token or new_token())
    try:
        await server.start()
    except RasaServerError as exc:
        log.error("Could not start the Rasa NLU server; using the simple rules.\n%s", exc)
        return None
    return server
