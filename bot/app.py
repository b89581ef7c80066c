"""The composition root: builds storage, content, NLU, skill finder and engine once."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.content import Content, check_keys, load_content
from bot.conversation.context import Extension
from bot.conversation.engine import ENGINE_KEYS, CardRenderer, Engine
from bot.logs import setup_logging
from bot.nlu import open_understanding
from bot.settings import Settings
from bot.skills.finder import SpacySkillFinder
from bot.types import SkillFinder, Understanding
from storage.db import make_engine, make_sessionmaker, upgrade

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a channel needs, built once per process."""

    settings: Settings
    content: Content
    db: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    understanding: Understanding
    finder: SkillFinder
    engine: Engine


def settle_memory() -> None:
    """Move everything loaded at start-up out of the garbage collector's way.

    The skill finder, the content and the libraries leave a few million
    long-lived objects; a full collection walked them all and paused the bot
    for 100-170 ms now and then (the p99 of reply times). Frozen objects are
    never scanned; what is created afterwards is collected as usual.
    """
    gc.collect()
    gc.freeze()


def load_app_content(settings: Settings) -> Content:
    """Load and validate the dialogues (raises ContentError listing every problem)."""
    return load_content(
        settings.dialogues_dir,
        engine_keys=ENGINE_KEYS,
        default_language=settings.default_language,
    )


def make_card_renderer(content: Content) -> CardRenderer:
    """Adapt the picture-card drawer to the engine's profile rows.

    Safe to call from worker threads: one card is drawn at a time (the fonts are
    shared). Nothing is cached, so an erased member's card is gone with them.
    """
    drawing = threading.Lock()

    def render(first_name: str, skills: list[tuple[str, str, str]], wishes: list[str]) -> bytes:
        from bot.skills.card import render_card

        infos = [content.taxonomy.get(skill_id) for skill_id, _, _ in skills]
        with drawing:
            png: bytes = render_card(first_name, [i for i in infos if i is not None], wishes)
        return png

    return render


def check_extension_keys(content: Content, extensions: tuple[Extension, ...]) -> None:
    """Every message key each extension declares exists (raises ContentError)."""
    for extension in extensions:
        check_keys(content, extension.message_keys, f"extension '{extension.prefix}'")


def default_extensions(settings: Settings) -> tuple[Extension, ...]:
    """The engine extensions every runtime gets (profile editing, nudges, ...)."""
    from bot.nudges.extension import NudgeExtension
    from bot.profile_edit import RemoveSkill

    return (RemoveSkill(), NudgeExtension.from_settings(settings))


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    understanding: Understanding | None = None,
    db_schema: str | None = None,
    content: Content | None = None,
    finder: SkillFinder | None = None,
    extensions: tuple[Extension, ...] | None = None,
) -> AsyncIterator[Runtime]:
    """Build the runtime; migrate the database; start (and later stop) the NLU.

    ``content`` and ``finder`` may be passed in when already built (tests reuse them).
    """
    from bot import preflight

    setup_logging(settings)
    preflight.note_driver(settings)
    preflight.check_speech(settings)
    if understanding is None:
        await preflight.check_rasa(settings)
    content = content or load_app_content(settings)
    if extensions is None:
        extensions = default_extensions(settings)
    check_extension_keys(content, extensions)
    url = settings.effective_database_url()
    db = make_engine(url, schema=db_schema)
    try:
        await preflight.check_database(db, url)
        await upgrade(db)
        sessionmaker = make_sessionmaker(db)
        finder = finder or SpacySkillFinder(content.taxonomy)
        async with _understanding(settings, understanding) as nlu:
            engine = Engine(
                sessionmaker,
                content,
                nlu,
                finder,
                settings,
                make_card_renderer(content),
                extensions=extensions,
            )
            yield Runtime(settings, content, db, sessionmaker, nlu, finder, engine)
    finally:
        await db.dispose()


@asynccontextmanager
async def _understanding(
    settings: Settings, given: Understanding | None
) -> AsyncIterator[Understanding]:
    """Use the given understanding, or open the configured one (Rasa with a fallback)."""
    if given is not None:
        yield given
        return
    async with open_understanding(settings) as nlu:
        yield nlu
