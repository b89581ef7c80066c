"""Start SkillSpark on Telegram: ``skillspark run`` calls :func:`main_run`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from collections.abc import Mapping
from typing import Any

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats
from telegram.error import BadRequest, InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, BaseRateLimiter, TypeHandler
from telegram.request import BaseRequest

from bot.content import Content
from bot.logs import protect_logs
from bot.settings import Settings
from bot.speech import personal_keys, speech_from_settings
from bot.speech.text import SPEECH_PRESS
from bot.telegram.channel import MENU_COMMANDS, TELEGRAM_KEYS, EngineLike, TelegramChannel, Texts
from bot.telegram.limiter import PacedRateLimiter
from bot.telegram.serve import (
    Backoff,
    Health,
    HealthServer,
    poll_updates,
    serve_webhook,
    wait_or_stop,
)
from storage.db import is_sqlite

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class TelegramStartError(RuntimeError):
    """The bot cannot run on Telegram as configured (the message says why)."""


def api_base_urls(base: str) -> tuple[str, str]:
    """PTB's ``base_url`` and ``base_file_url`` for another Bot API server.

    ``http://host:port`` and ``http://host:port/bot`` both work; the token is
    appended by PTB.
    """
    root = base.rstrip("/")
    root = root.removesuffix("/bot")
    return f"{root}/bot", f"{root}/file/bot"


def engine_limit(settings: Settings) -> int:
    """Engine calls at once: SQLite has one writer, so a few beat many waiting on its lock."""
    return 4 if is_sqlite(settings.effective_database_url()) else 64


def content_texts(content: Content) -> Texts:
    """Look up this channel's messages; fail at start-up when one is missing."""
    missing = [key for key in TELEGRAM_KEYS if not content.has(key)]
    if missing:
        raise TelegramStartError(f"dialogues are missing Telegram messages: {', '.join(missing)}")
    return lambda key: content.text(key)


def build_application(
    settings: Settings,
    channel: TelegramChannel,
    *,
    request: BaseRequest | None = None,
    rate_limiter: BaseRateLimiter[Any] | bool = True,
) -> AnyApplication:
    """The PTB application: one handler for every update, paced and retried Bot API calls.

    Updates are not fetched by PTB's ``Updater``: :mod:`bot.telegram.serve` gets
    them and confirms them only once stored (see there).
    """
    token = settings.telegram_bot_token.get_secret_value()
    if not token:
        raise TelegramStartError("TELEGRAM_BOT_TOKEN is not set")
    builder: Any = ApplicationBuilder().token(token).updater(None)
    if settings.telegram_api_base_url:
        base_url, file_url = api_base_urls(settings.telegram_api_base_url)
        builder = builder.base_url(base_url).base_file_url(file_url)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if rate_limiter is True:
        builder = builder.rate_limiter(PacedRateLimiter())
    elif rate_limiter is not False:
        builder = builder.rate_limiter(rate_limiter)
    app: AnyApplication = builder.build()
    app.add_handler(TypeHandler(object, channel.on_update))
    app.add_error_handler(channel.on_error)
    channel.bind(app)
    return app


Menu = tuple[str | None, list[BotCommand]]


def command_menus(messages: Mapping[str, Mapping[str, str]], default_language: str) -> list[Menu]:
    """The command menu per language that has every description (``None``: the default)."""
    keys = [f"telegram.command.{name}" for name in MENU_COMMANDS]
    menus: list[Menu] = []
    for language, texts in messages.items():
        if not all(key in texts for key in keys):
            continue
        commands = [
            BotCommand(name, texts[key]) for name, key in zip(MENU_COMMANDS, keys, strict=True)
        ]
        menus.append((None if language == default_language else language, commands))
    return menus


async def register_commands(bot: Bot, menus: list[Menu]) -> None:
    """Put the member commands in Telegram's menu for private chats (nice to have)."""
    scope = BotCommandScopeAllPrivateChats()
    for language, commands in menus:
        try:
            await bot.set_my_commands(commands, scope=scope, language_code=language)
        except TelegramError as exc:
            log.warning("could not set the command menu (%s): %s", language or "default", exc)


async def start_bot(app: AnyApplication, stop: asyncio.Event) -> bool:
    """Initialise the application (getMe), retrying network trouble; False if stopped first."""
    backoff = Backoff()
    while not stop.is_set():
        try:
            await app.initialize()
            return True
        except InvalidToken:
            raise TelegramStartError("Telegram does not accept TELEGRAM_BOT_TOKEN") from None
        except TelegramError as exc:
            wait = backoff.next()
            log.warning("cannot reach Telegram (%s); trying again in %.1f s", exc, wait)
            await wait_or_stop(stop, wait)
    return False


async def serve(
    app: AnyApplication,
    channel: TelegramChannel,
    settings: Settings,
    stop: asyncio.Event,
    menus: list[Menu],
    health: Health | None = None,
    polling_lease: PollingLease | None = None,
) -> None:
    """Run an initialised application until ``stop``: commands, then polling or the webhook."""
    if not settings.webhook_url and polling_lease is not None:
        await polling_lease.take(stop)  # raises when another process is polling
    await app.start()
    try:
        await channel.replay()
        await register_commands(app.bot, menus)
        if settings.webhook_url:
            secret = settings.webhook_secret.get_secret_value() or secrets.token_urlsafe(32)
            protect_logs(secret)
            await serve_webhook(
                app.bot,
                channel,
                stop,
                url=settings.webhook_url,
                secret=secret,
                listen=settings.webhook_listen,
                port=settings.webhook_port,
                health=health,
            )
        else:
            try:
                await app.bot.delete_webhook(drop_pending_updates=False)
            except TelegramError as exc:
                log.warning("could not remove an old webhook: %s", exc)
            log.info("SkillSpark is on Telegram as @%s (long polling)", app.bot.username)
            health_server = None
            if health is not None and settings.health_port:
                health_server = HealthServer(health)
                health_server.listen(settings.health_port, settings.webhook_listen)
            try:
                if polling_lease is not None:
                    polling_lease.keep_renewing(stop)
                await poll_updates(app.bot, channel, stop)
            finally:
                if health_server is not None:
                    await health_server.close()
                if polling_lease is not None:
                    await polling_lease.release()
    finally:
        if not await channel.drain(within=settings.stop_seconds):
            log.warning("stopping with %d replies not sent", channel.busy)
        await app.stop()


POLLING_JOB = "telegram_polling"


class PollingLease:
    """Long polling runs in one process: it holds the ``telegram_polling`` job lease."""

    def __init__(self, once: Any, lease_s: float) -> None:
        """Use ``once`` (a :class:`bot.jobs.RunOnce`) to hold the lease."""
        self.once = once
        self.lease_s = lease_s
        self._renew: asyncio.Task[None] | None = None

    async def take(self, stop: asyncio.Event) -> None:
        """Take the lease; wait one lease for a stopped process's to run out, then give up."""
        from storage.leases import job_holder

        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.lease_s + 1.0
        while not await self.once.claim(POLLING_JOB, self.lease_s):
            if loop.time() >= give_up or stop.is_set():
                async with self.once.sessionmaker() as session:
                    held = await job_holder(session, POLLING_JOB)
                who = held[0] if held else "another process"
                raise TelegramStartError(
                    f"another bot process ({who}) is already getting updates by long polling; "
                    "run one polling process, or set SKILLSPARK_WEBHOOK_URL to run several"
                )
            await wait_or_stop(stop, min(1.0, self.lease_s / 3))

    def keep_renewing(self, stop: asyncio.Event) -> None:
        """Renew the lease every third of its length until ``stop``."""

        async def renew() -> None:
            while not stop.is_set():
                await wait_or_stop(stop, self.lease_s / 3)
                if not stop.is_set() and not await self.once.claim(POLLING_JOB, self.lease_s):
                    log.warning("another process took over long polling; stopping this one")
                    stop.set()

        self._renew = asyncio.create_task(renew())

    async def release(self) -> None:
        """Stop renewing and drop the lease (the next process may poll at once)."""
        from storage.leases import release_job

        if self._renew is not None:
            self._renew.cancel()
        with contextlib.suppress(Exception):
            async with self.once.sessionmaker.begin() as session:
                await release_job(session, POLLING_JOB, self.once.owner)


def _stop_on_signals(stop: asyncio.Event) -> None:
    """Set ``stop`` on SIGINT and SIGTERM."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run_telegram(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run the bot on Telegram until SIGINT/SIGTERM (or ``stop``)."""
    from bot.app import open_runtime, settle_memory
    from bot.desk.serve import DeskNotConfigured, check_desk_settings, maybe_desk
    from bot.health import Readiness, readiness
    from bot.jobs import RunOnce, start_scheduler
    from bot.nudges.jobs import add_nudge_jobs
    from bot.nudges.ptb import TelegramNudgeSender
    from bot.staff.desk import StaffCommands
    from bot.staff.labels import Labels
    from bot.staff.roles import recipients
    from storage.inbox import SharedInbox, SqlInbox
    from storage.leases import new_process_id

    token = settings.telegram_bot_token.get_secret_value()
    if not token:
        raise TelegramStartError("TELEGRAM_BOT_TOKEN is not set")
    try:
        check_desk_settings(settings)
    except DeskNotConfigured as exc:
        raise TelegramStartError(f"the staff desk cannot start: {exc}") from None
    protect_logs(token, settings.webhook_secret.get_secret_value())
    from bot.preflight import check_fonts

    check_fonts(settings)  # members' picture cards on Telegram need it (the terminal chat does not)
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    async with open_runtime(settings) as runtime:
        protect_logs(token)  # again: the runtime may have set up logging afresh
        labels = Labels.from_content(runtime.content)
        engine: EngineLike = StaffCommands(
            runtime.engine,
            runtime.sessionmaker,
            labels,
            desk_url=settings.desk_url() if settings.desk_enabled else None,
        )
        speech = speech_from_settings(settings, runtime.content.text(SPEECH_PRESS))
        owner = settings.process_id or new_process_id()
        sqlite = is_sqlite(settings.effective_database_url())
        inbox: SqlInbox = SqlInbox(runtime.sessionmaker)
        if settings.webhook_url and not sqlite:
            inbox = SharedInbox(runtime.sessionmaker, owner, lease_s=settings.lease_seconds)
            log.info("webhook on a shared database: this process is %s", owner)
        channel = TelegramChannel(
            engine,
            content_texts(runtime.content),
            engine_limit=engine_limit(settings),
            inbox=inbox,
            sweep_s=settings.inbox_sweep_seconds,
            speech=speech,
            personal_keys=personal_keys(runtime.content),
            max_voice_in_bytes=settings.speech_max_voice_in_bytes,
        )
        once = RunOnce(runtime.sessionmaker, owner, settings.lease_seconds)

        async def health() -> Readiness:
            return await readiness(runtime.db, runtime.understanding)

        app = build_application(settings, channel)
        scheduler = None
        nudges = None
        try:
            if await start_bot(app, stop):
                scheduler = start_scheduler(
                    runtime.sessionmaker,
                    settings,
                    sender=channel,
                    recipients=recipients,
                    once=once,
                )
                nudges = add_nudge_jobs(
                    scheduler,
                    runtime.sessionmaker,
                    runtime.content,
                    settings,
                    TelegramNudgeSender(
                        app.bot,
                        voice=lambda chat, reply: channel.send_voice_of(app.bot, chat, reply),
                    ),
                    stop=stop,
                    once=once,
                )
                menus = command_menus(runtime.content.messages, runtime.content.default_language)
                settle_memory()
                async with maybe_desk(runtime.sessionmaker, labels, settings, health=health):
                    await serve(
                        app,
                        channel,
                        settings,
                        stop,
                        menus,
                        health=health,
                        polling_lease=PollingLease(once, settings.lease_seconds),
                    )
        finally:
            if nudges is not None:
                await nudges.stop()
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            await app.shutdown()
            if speech is not None:
                speech.close()
    log.info("SkillSpark has stopped")


def main_run(settings: Settings) -> None:
    """Blocking entry point for ``skillspark run``; exits with 2 when it cannot start."""
    from bot.preflight import StartupError

    try:
        asyncio.run(run_telegram(settings))
    except StartupError as exc:
        log.error("SkillSpark cannot start: %s", exc)
        raise SystemExit(2) from None
    except (TelegramStartError, InvalidToken) as exc:
        log.error("SkillSpark cannot run on Telegram: %s", exc)
        raise SystemExit(2) from None
    except BadRequest as exc:  # e.g. a webhook address or secret Telegram does not accept
        log.error("SkillSpark cannot run on Telegram: Telegram refused the settings: %s", exc)
        raise SystemExit(2) from None
