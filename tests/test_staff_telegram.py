"""``/export`` over Telegram: the real channel, PTB, engine and database, an HTTP Bot API peer.

The bot here is built like ``skillspark run`` builds it (``open_runtime`` and
the Telegram channel), with the engine wrapped in :class:`StaffCommands` as the
composition root does. Staff press buttons and get a document; anyone else
gets a kind refusal and no file.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bot.app import Runtime, open_runtime
from bot.staff import roles
from bot.staff.desk import StaffCommands
from bot.staff.labels import Labels
from bot.telegram.app import build_application, content_texts, serve, start_bot
from bot.telegram.channel import TelegramChannel
from bot.telegram.limiter import PacedRateLimiter
from storage.models import AuditEvent
from tests.botapi_peer import TOKEN, ApiCall, BotApiPeer
from tests.conftest import Database, make_settings
from tests.test_staff_export import add_member

T = TypeVar("T")
STAFF, ADMIN, MEMBER = 8801, 8802, 8803


async def until(check: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking peer wait off the event loop (the bot runs on it)."""
    return await asyncio.to_thread(check, *args, **kwargs)


@pytest.fixture
def peer() -> Any:
    """A running Bot API peer."""
    with BotApiPeer() as running:
        yield running


@asynccontextmanager
async def running_bot(peer: BotApiPeer, db: Database, tmp_path: Path) -> AsyncIterator[Runtime]:
    """The real runtime on Telegram, ``/export`` answered by the staff commands."""
    settings = make_settings(
        db, tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=peer.base_url
    )
    async with open_runtime(settings, db_schema=db.schema) as runtime:
        engine = StaffCommands(
            runtime.engine, runtime.sessionmaker, Labels.from_content(runtime.content)
        )
        channel = TelegramChannel(engine, content_texts(runtime.content))
        limiter = PacedRateLimiter(chat_rate=100, backoff_s=0.01)
        app = build_application(settings, channel, rate_limiter=limiter)
        stop = asyncio.Event()
        assert await start_bot(app, stop)
        task = asyncio.create_task(serve(app, channel, settings, stop, []))
        try:
            yield runtime
        finally:
            stop.set()
            await task
            await app.shutdown()


@pytest.fixture
async def seeded(sqlite_db: Database, tmp_path: Path) -> AsyncIterator[dict[str, int]]:
    """Members in two networks (one without consent), a staff member and an admin."""
    settings = make_settings(sqlite_db, tmp_path)
    from storage.db import make_engine, make_sessionmaker, upgrade

    engine = make_engine(settings.effective_database_url())
    await upgrade(engine)
    sm = make_sessionmaker(engine)
    sam = await add_member(sm, MEMBER, "Sam", "north")
    ana = await add_member(sm, 8804, "Ana", "south")
    await add_member(sm, 8805, "Nope", "north", consent=False)
    async with sm.begin() as session:
        await roles.add_staff(session, STAFF, "north", added_by="test")
        await roles.add_staff(session, ADMIN, "south", is_admin=True, added_by="test")
    await engine.dispose()
    yield {"sam": sam.id, "ana": ana.id}


async def ask_for(peer: BotApiPeer, user_id: int, choice: str) -> ApiCall:
    """Send /export, tap a format button, and return the document the bot sends."""
    user = peer.user(user_id, "Jo")
    mark = peer.mark()
    peer.command(user, "export")
    menu = await until(peer.wait_buttons, user_id, mark)
    peer.tap_button(user, menu, choice)
    return await until(
        peer.wait_for,
        lambda: next(iter(peer.calls_of("sendDocument", user_id, since=mark)), None),
        60,
        "a document",
    )


async def test_staff_choose_a_format_with_buttons_and_get_their_network_as_a_document(
    peer: BotApiPeer, sqlite_db: Database, tmp_path: Path, seeded: dict[str, int]
) -> None:
    async with running_bot(peer, sqlite_db, tmp_path) as runtime:
        labels = Labels.from_content(runtime.content)
        user = peer.user(STAFF, "Jo")
        peer.command(user, "export")
        menu = await until(peer.wait_buttons, STAFF)
        assert menu["text"] == labels.text("staff.export.choose")
        assert [b["text"] for b in peer.buttons(menu)] == [
            labels.text("button.export_csv"),
            labels.text("button.export_xlsx"),
            labels.text("button.export_pdf"),
        ]
        sheet = await ask_for(peer, STAFF, "export_csv")
        pages = await ask_for(peer, STAFF, "export_pdf")
        async with runtime.sessionmaker() as session:
            events = (
                (
                    await session.execute(
                        select(AuditEvent)
                        .where(AuditEvent.action == "export")
                        .order_by(AuditEvent.id)
                    )
                )
                .scalars()
                .all()
            )

    upload = sheet.files["document"]
    assert upload.filename is not None and upload.filename.endswith(".csv")
    assert sheet.params["caption"] == labels.text("staff.export.done", count="1")
    rows = list(csv.DictReader(io.StringIO(upload.content.decode("utf-8-sig"))))
    assert [(r["First name"], r["Network"]) for r in rows] == [("Sam", "north")]
    reader = PdfReader(io.BytesIO(pages.files["document"].content))
    assert len(reader.pages) == 1 and "Sam" in reader.pages[0].extract_text()
    assert [
        (e.actor, e.detail["format"], e.detail["members"], e.detail["channel"]) for e in events
    ] == [
        (f"telegram:{STAFF}", "csv", [seeded["sam"]], "telegram"),
        (f"telegram:{STAFF}", "pdf", [seeded["sam"]], "telegram"),
    ]


async def test_an_admin_gets_every_network(
    peer: BotApiPeer, sqlite_db: Database, tmp_path: Path, seeded: dict[str, int]
) -> None:
    async with running_bot(peer, sqlite_db, tmp_path):
        call = await ask_for(peer, ADMIN, "export_xlsx")

    book = openpyxl.load_workbook(io.BytesIO(call.files["document"].content))
    members = [r[:3] for r in book["Members"].iter_rows(min_row=2, values_only=True)]
    assert members == [(seeded["sam"], "Sam", "north"), (seeded["ana"], "Ana", "south")]


async def test_anyone_else_gets_a_kind_refusal_and_no_file(
    peer: BotApiPeer, sqlite_db: Database, tmp_path: Path, seeded: dict[str, int]
) -> None:
    async with running_bot(peer, sqlite_db, tmp_path) as runtime:
        labels = Labels.from_content(runtime.content)
        refusal = labels.text("staff.only")
        member = peer.user(MEMBER, "Sam")
        peer.command(member, "export")
        await until(peer.wait_text, MEMBER, refusal)
        stranger = peer.user(8899, "Kim")
        peer.command(stranger, "export")
        said = await until(peer.wait_text, 8899, refusal)
        mark = peer.mark()
        peer.tap(stranger, said, ":export_csv")  # a made-up button press
        await until(peer.wait_text, 8899, refusal, mark)
        await asyncio.sleep(0.5)  # give a wrongly sent file time to show up
        async with runtime.sessionmaker() as session:
            actions = (await session.execute(select(AuditEvent.actor, AuditEvent.action))).all()

    assert peer.calls_of("sendDocument") == []
    assert [m["text"] for m in peer.sent(8899)] == [refusal, refusal]
    sam_sees = [m["text"] for m in peer.sent(MEMBER)]
    assert sam_sees[0] == refusal and len(sam_sees) >= 2  # then where Sam was
    refused = sorted(a for a in actions if a[1] == "export_refused")
    assert refused == [
        (f"telegram:{MEMBER}", "export_refused"),
        ("telegram:8899", "export_refused"),
        ("telegram:8899", "export_refused"),
    ]
    assert not any(action == "export" for _, action in actions)
