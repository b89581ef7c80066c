"""Serve the desk with uvicorn on the running event loop (in the bot process or alone).

uvicorn's access log is off: a sign-in link's token is in its path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk.app import Health, make_desk
from bot.settings import Settings
from bot.staff.labels import Labels

log = logging.getLogger(__name__)


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside another program: the program, not uvicorn, handles Ctrl+C and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave the signal handlers alone."""
        yield


class DeskNotConfigured(RuntimeError):
    """The desk is switched on but cannot start; the message says what to set."""


def check_desk_settings(settings: Settings, *, alone: bool = False) -> None:
    """Fail clearly when the desk is on (or run alone) without its secret."""
    if (settings.desk_enabled or alone) and not settings.desk_secret.get_secret_value():
        raise DeskNotConfigured(
            "SKILLSPARK_DESK_SECRET is not set. "
            "Set it to 32 or more random characters, for example from: "
            'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
        )


def desk_server(
    sessionmaker: async_sessionmaker[AsyncSession],
    labels: Labels,
    settings: Settings,
    *,
    port: int | None = None,
    health: Health | None = None,
) -> EmbeddedServer:
    """A uvicorn server for the desk (not started)."""
    app = make_desk(sessionmaker, labels, settings, health=health)
    config = uvicorn.Config(
        app,
        host=settings.desk_listen,
        port=settings.desk_port if port is None else port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        lifespan="off",
    )
    return EmbeddedServer(config)


@asynccontextmanager
async def running_desk(
    sessionmaker: async_sessionmaker[AsyncSession],
    labels: Labels,
    settings: Settings,
    *,
    port: int | None = None,
    health: Health | None = None,
) -> AsyncIterator[EmbeddedServer]:
    """Run the desk as a task on this event loop until the block ends."""
    server = desk_server(sessionmaker, labels, settings, port=port, health=health)
    task = asyncio.create_task(server.serve(), name="desk")
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it (for example the port is taken)
                raise DeskNotConfigured("the desk stopped before it started")
            await asyncio.sleep(0.02)
        log.info("staff desk on %s (plain HTTP: put TLS in front of it)", settings.desk_url())
        yield server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


@asynccontextmanager
async def maybe_desk(
    sessionmaker: async_sessionmaker[AsyncSession],
    labels: Labels,
    settings: Settings,
    *,
    health: Health | None = None,
) -> AsyncIterator[EmbeddedServer | None]:
    """The desk while the bot runs, when ``SKILLSPARK_DESK_ENABLED`` is on.

    ``health``: the bot's readiness, so the desk's ``/readyz`` says what the bot's does.
    """
    if not settings.desk_enabled:
        yield None
        return
    check_desk_settings(settings)
    async with running_desk(sessionmaker, labels, settings, health=health) as server:
        yield server


async def serve_desk_alone(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """``skillspark desk``: the desk on its own until Ctrl+C or SIGTERM (or ``stop``)."""
    import signal

    from bot.app import load_app_content
    from bot.logs import setup_logging
    from storage.db import make_engine, make_sessionmaker, upgrade

    check_desk_settings(settings, alone=True)
    setup_logging(settings)
    labels = Labels.from_content(load_app_content(settings))
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    engine = make_engine(settings.effective_database_url())
    try:
        await upgrade(engine)
        async with running_desk(make_sessionmaker(engine), labels, settings):
            await stop.wait()
    finally:
        await engine.dispose()
