"""Signing in to the desk: ``/desk`` on Telegram sends a one-time link; the password command;
the desk refuses to start without its secret.

The Telegram side is the real channel and PTB against the loopback Bot API peer,
built as ``skillspark run`` builds it; the link is then opened over HTTP.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from bot.app import open_runtime
from bot.desk.serve import running_desk
from bot.settings import Settings, get_settings
from bot.staff import roles
from bot.staff.cli import staff_app
from bot.staff.desk import StaffCommands
from bot.staff.labels import Labels
from bot.telegram.app import (
    TelegramStartError,
    build_application,
    content_texts,
    run_telegram,
    serve,
    start_bot,
)
from bot.telegram.channel import TelegramChannel
from bot.telegram.limiter import PacedRateLimiter
from storage.models_desk import DeskLogin
from tests.botapi_peer import TOKEN, BotApiPeer
from tests.conftest import Database, make_settings
from tests.desk_support import SECRET
from tests.test_desk_security import token_of
from tests.test_staff_export import add_member

STAFF, MEMBER = 8811, 8812
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/signin/link/[A-Za-z0-9_-]+)")


@pytest.fixture
def peer() -> Iterator[BotApiPeer]:
    """A running Bot API peer."""
    with BotApiPeer() as running:
        yield running


@asynccontextmanager
async def bot_and_desk(
    peer: BotApiPeer, db: Database, tmp_path: Path, *, desk_on: bool = True
) -> AsyncIterator[str]:
    """The bot on Telegram with the staff commands, and the desk on a free port; its URL."""
    settings = make_settings(
        db,
        tmp_path,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=peer.base_url,
        SKILLSPARK_DESK_SECRET=SECRET,
    )
    async with open_runtime(settings, db_schema=db.schema) as runtime:
        labels = Labels.from_content(runtime.content)
        async with running_desk(runtime.sessionmaker, labels, settings, port=0) as server:
            host, port = server.servers[0].sockets[0].getsockname()[:2]
            url = f"http://{host}:{port}"
            engine = StaffCommands(
                runtime.engine, runtime.sessionmaker, labels, desk_url=url if desk_on else None
            )
            channel = TelegramChannel(engine, content_texts(runtime.content))
            limiter = PacedRateLimiter(chat_rate=100, backoff_s=0.01)
            app = build_application(settings, channel, rate_limiter=limiter)
            stop = asyncio.Event()
            assert await start_bot(app, stop)
            task = asyncio.create_task(serve(app, channel, settings, stop, []))
            try:
                async with runtime.sessionmaker.begin() as session:
                    await roles.add_staff(session, STAFF, "north", name="Jo", added_by="test")
                await add_member(runtime.sessionmaker, MEMBER, "Sam", "north")
                yield url
            finally:
                stop.set()
                await task
                await app.shutdown()


async def test_desk_command_sends_a_one_time_link(
    peer: BotApiPeer, database: Database, tmp_path: Path
) -> None:
    """Staff get a link that signs them in once; a member gets a kind refusal and no link."""
    async with bot_and_desk(peer, database, tmp_path) as url:
        staff = peer.user(STAFF, "Jo")
        peer.command(staff, "desk")
        message = await asyncio.to_thread(peer.wait_text, STAFF, "/signin/link/")
        assert message["text"].startswith("🔑")
        found = LINK.search(message["text"])
        assert found is not None
        link = found.group(1)
        assert link.startswith(url)

        member = peer.user(MEMBER, "Sam")
        mark = peer.mark()
        peer.command(member, "desk")
        refusal = await asyncio.to_thread(peer.wait_text, MEMBER, "Only staff", mark)
        assert "/signin/link/" not in refusal["text"]

        async with httpx.AsyncClient(follow_redirects=False, timeout=10) as http:
            page = await http.get(link)
            answer = await http.post(link, data={"csrf_token": token_of(page.text)})
            assert answer.status_code == 303
            home = await http.get(url + "/")
            assert home.status_code == 200 and "Signed in as Jo" in home.text
        async with httpx.AsyncClient(follow_redirects=False, timeout=10) as again:
            page = await again.get(link)
            answer = await again.post(link, data={"csrf_token": token_of(page.text)})
            assert answer.status_code == 400


async def test_desk_command_when_the_desk_is_off(
    peer: BotApiPeer, sqlite_db: Database, tmp_path: Path
) -> None:
    """With the desk switched off, staff are told so plainly."""
    async with bot_and_desk(peer, sqlite_db, tmp_path, desk_on=False):
        staff = peer.user(STAFF, "Jo")
        peer.command(staff, "desk")
        message = await asyncio.to_thread(peer.wait_text, STAFF, "switched off")
        assert message["text"].startswith("🔒")


async def test_the_desk_does_not_start_without_its_secret(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Switched on without SKILLSPARK_DESK_SECRET, the bot stops at once and says why."""
    settings = make_settings(
        sqlite_db, tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, SKILLSPARK_DESK_ENABLED=True
    )
    with pytest.raises(TelegramStartError, match="SKILLSPARK_DESK_SECRET is not set"):
        await run_telegram(settings, stop=asyncio.Event())
    with pytest.raises(ValueError, match="32 or more characters"):
        Settings(_env_file=None, SKILLSPARK_DESK_SECRET="short")  # type: ignore[call-arg]


@pytest.fixture
def cli(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[typer.Typer]:
    """The staff commands mounted as in ``bot/cli.py``, on a SQLite file."""
    monkeypatch.setenv("SKILLSPARK_DATABASE_URL", sqlite_db.url)
    monkeypatch.setenv("SKILLSPARK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    app = typer.Typer()
    app.add_typer(staff_app, name="staff")
    yield app
    get_settings.cache_clear()


def test_staff_password_is_asked_twice_and_never_shown(
    cli: typer.Typer, sqlite_db: Database
) -> None:
    """``skillspark staff password ID`` prompts without echo and stores only a hash."""
    runner = CliRunner()
    assert runner.invoke(cli, ["staff", "add", "6001", "--network", "north"]).exit_code == 0
    secret = "correct horse battery"
    result = runner.invoke(cli, ["staff", "password", "6001"], input=f"{secret}\n{secret}\n")
    assert result.exit_code == 0, result.output
    assert secret not in result.output and "password set for 6001" in result.output
    short = runner.invoke(cli, ["staff", "password", "6001"], input="short\nshort\n")
    assert short.exit_code != 0 and "10 or more characters" in short.output
    nobody = runner.invoke(cli, ["staff", "password", "6999"], input=f"{secret}\n{secret}\n")
    assert nobody.exit_code != 0 and "not staff" in nobody.output

    async def stored() -> list[str | None]:
        from storage.db import make_engine, make_sessionmaker

        engine = make_engine(sqlite_db.url)
        try:
            async with make_sessionmaker(engine)() as session:
                rows = await session.execute(select(DeskLogin.password_hash))
                return list(rows.scalars())
        finally:
            await engine.dispose()

    (hashed,) = asyncio.run(stored())
    assert hashed is not None and hashed.startswith("$argon2id$") and secret not in hashed
