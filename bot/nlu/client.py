"""Clients that understand member text: the Rasa HTTP client and the resilient mix.

``RasaUnderstanding`` talks to ``POST /model/parse`` with short timeouts and one
retry. ``ResilientUnderstanding`` is what the engine gets:

1. the safety net on every message (distress wins);
2. a whole known short answer ("yeh", "nah", "👍", "dunno", "skip") from the
   rules' word list, which is surer than the model for single words;
3. Rasa for everything else while it is healthy;
4. the rules while Rasa is down. The degraded state is logged once; Rasa is
   probed again after growing pauses, and the recovery is logged.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp

from bot.nlu.rules import EXACT, RuleUnderstanding, parse_rules
from bot.nlu.safety import detect_distress
from bot.types import INTENTS, Entity, NluResult, Understanding

log = logging.getLogger(__name__)

#: Longest text sent to Rasa (longer messages are cut; the engine limits them too).
MAX_TEXT_CHARS = 2000


class RasaUnavailable(RuntimeError):
    """Rasa did not answer usefully (down, slow, refused the token, bad reply)."""


class _RedactToken(logging.Filter):
    """Hide ``token=...`` in log records (HTTP libraries may log request URLs)."""

    _pattern = re.compile(r"(token=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments with the token masked; always keep it."""
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(
                self._pattern.sub(r"\1***", str(arg)) if "token=" in str(arg) else arg
                for arg in args
            )
        if isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = self._pattern.sub(r"\1***", record.msg)
        return True


def _install_redaction() -> None:
    """Add the token filter to the HTTP libraries' loggers once."""
    for name in ("httpx", "httpcore", "aiohttp.client", "aiohttp.internal"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactToken) for f in logger.filters):
            logger.addFilter(_RedactToken())


_install_redaction()


def to_result(payload: Any) -> NluResult:
    """Map Rasa's parse JSON to an :class:`NluResult` (``source="rasa"``)."""
    if not isinstance(payload, dict):
        raise RasaUnavailable("Rasa answered with something that is not a JSON object.")
    intent = payload.get("intent") or {}
    name = intent.get("name") if isinstance(intent, dict) else None
    try:
        confidence = float(intent.get("confidence") or 0.0) if isinstance(intent, dict) else 0.0
    except (TypeError, ValueError):
        confidence = 0.0
    if name not in INTENTS:
        name, confidence = "nlu_fallback", 0.0
    confidence = min(max(confidence, 0.0), 1.0)
    entities: list[Entity] = []
    seen: set[tuple[str, int, int]] = set()
    for item in payload.get("entities") or []:
        try:
            entity = Entity(
                entity=str(item["entity"]),
                value=str(item["value"]),
                start=int(item["start"]),
                end=int(item["end"]),
            )
        except (KeyError, TypeError, ValueError):
            continue
        key = (entity.entity, entity.start, entity.end)
        if key not in seen:
            seen.add(key)
            entities.append(entity)
    entities.sort(key=lambda e: (e.start, e.end))
    return NluResult(
        intent=str(name), confidence=confidence, entities=tuple(entities), source="rasa"
    )


class RasaUnderstanding:
    """HTTP client for a Rasa NLU server; raises :class:`RasaUnavailable` on trouble.

    It uses aiohttp, not httpx: a parse costs the bot 0.8 ms of CPU with
    aiohttp against 2-4 ms with httpx (measured on this project's 2-core
    machine), and every typed message is parsed.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout_s: float = 1.5,
        retries: int = 1,
    ) -> None:
        """Prepare a client for ``base_url`` (e.g. ``http://127.0.0.1:5005``)."""
        self.base_url = base_url.rstrip("/")
        self._token = token or None
        self.retries = max(0, retries)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, 0.5))
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        """The connection pool, opened on first use (inside the running event loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=8, keepalive_timeout=30),
            )
        return self._session

    async def parse(self, text: str, *, retries: int | None = None) -> NluResult:
        """Ask Rasa what ``text`` means; commands and empty text go to the rules."""
        cleaned = (text or "").strip()[:MAX_TEXT_CHARS]
        if not cleaned or cleaned.startswith("/"):
            return parse_rules(cleaned)
        params = {"token": self._token} if self._token else None
        attempts = 1 + (self.retries if retries is None else max(0, retries))
        last: Exception | None = None
        url = f"{self.base_url}/model/parse"
        for _ in range(attempts):
            try:
                async with self._http().post(url, json={"text": cleaned}, params=params) as answer:
                    status = answer.status
                    body = await answer.read() if status == 200 else b""
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = exc
                continue
            if status in (401, 403):
                raise RasaUnavailable(f"Rasa refused the token (HTTP {status}).")
            if status >= 500:
                last = RasaUnavailable(f"Rasa answered HTTP {status}.")
                continue
            if status != 200:
                raise RasaUnavailable(f"Rasa answered HTTP {status}.")
            try:
                return to_result(json.loads(body))
            except ValueError as exc:
                raise RasaUnavailable("Rasa answered with invalid JSON.") from exc
        raise RasaUnavailable(f"Rasa did not answer: {type(last).__name__}") from last

    async def healthy(self) -> bool:
        """True when ``GET /`` answers 200 (no token needed)."""
        try:
            async with self._http().get(f"{self.base_url}/") as answer:
                return answer.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> RasaUnderstanding:
        """Use as ``async with``."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client."""
        await self.aclose()


class ResilientUnderstanding:
    """Safety net first, Rasa while healthy, rules while not; recovers by itself."""

    def __init__(
        self,
        rasa: RasaUnderstanding,
        rules: Understanding | None = None,
        *,
        first_pause_s: float = 1.0,
        max_pause_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Combine ``rasa`` with the ``rules`` fallback; pauses grow from 1 s to 30 s."""
        self.rasa = rasa
        self.rules: Understanding = rules or RuleUnderstanding()
        self.first_pause_s = first_pause_s
        self.max_pause_s = max_pause_s
        self._clock = clock
        self._degraded = False
        self._pause_s = first_pause_s
        self._next_probe = 0.0

    @property
    def degraded(self) -> bool:
        """True while Rasa is considered down and the rules answer."""
        return self._degraded

    async def parse(self, text: str) -> NluResult:
        """Understand one member message; never raises."""
        if detect_distress(text or ""):
            return NluResult(intent="distress", confidence=1.0, source="rules")
        known = parse_rules(text)
        if known.confidence >= EXACT:
            # A whole known short answer ("yeh", "nah", "👍", "dunno", "skip"):
            # the word list is surer than a model that saw each word once.
            return known
        if self._degraded and self._clock() < self._next_probe:
            return await self.rules.parse(text)
        try:
            # While degraded, one quick attempt is the probe (no retry).
            result = await self.rasa.parse(text, retries=0 if self._degraded else None)
        except RasaUnavailable as exc:
            self._went_down(exc)
            return await self.rules.parse(text)
        except Exception as exc:  # a bug must not silence a member
            log.exception("Unexpected error from the Rasa client")
            self._went_down(exc)
            return await self.rules.parse(text)
        self._came_back()
        return result

    def _went_down(self, exc: Exception) -> None:
        """Enter (or stay in) the degraded state; log only on the way in."""
        if not self._degraded:
            self._degraded = True
            self._pause_s = self.first_pause_s
            log.warning(
                "Rasa NLU is not answering (%s); using the simple rules until it is back.", exc
            )
        else:
            self._pause_s = min(self._pause_s * 2, self.max_pause_s)
        self._next_probe = self._clock() + self._pause_s

    def _came_back(self) -> None:
        """Leave the degraded state, logging the recovery once."""
        if self._degraded:
            self._degraded = False
            self._pause_s = self.first_pause_s
            log.info("Rasa NLU is answering again; back to full understanding.")
