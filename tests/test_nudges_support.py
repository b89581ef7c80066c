"""Shared helpers for the nudge tests (no tests here): members, opportunities, clocks, senders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.app import Runtime, open_runtime
from bot.nudges.extension import NudgeExtension
from bot.nudges.pacer import Pacer
from bot.nudges.planner import Planner
from bot.nudges.prefs import NudgeDefaults, new_prefs
from bot.nudges.ptb import TelegramNudgeSender
from bot.nudges.sender import NudgeService
from bot.nudges.texts import parse_answer
from bot.telegram.app import api_base_urls
from bot.types import Reply
from storage.models import ConversationState, LearningWish, Member, MemberSkill
from storage.models_nudges import NudgeOutbox, NudgePrefs, Opportunity
from tests.botapi_peer import TOKEN, BotApiPeer
from tests.conftest import Database, make_settings, shared_parts

#: A Wednesday morning in winter (GMT), when default members are due at 11:00.
WINTER = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)


class FakeClock:
    """A clock whose sleeps pass at once (and move the time on)."""

    def __init__(self, start: datetime = WINTER) -> None:
        """Start at ``start``."""
        self.at = start
        self.slept: list[float] = []

    def now(self) -> datetime:
        """The current fake time."""
        return self.at

    def monotonic(self) -> float:
        """Seconds since the start, as a monotonic clock."""
        return (self.at - WINTER).total_seconds()

    async def sleep(self, seconds: float) -> None:
        """Move the time on instead of waiting."""
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)

    def advance(self, **delta: float) -> None:
        """Move the time on."""
        self.at += timedelta(**delta)


@dataclass
class RecordingSender:
    """Remembers what it was asked to send (unit tests only; the peer tests use the real one)."""

    sent: list[tuple[int, Reply]] = field(default_factory=list)

    async def send_nudge(self, chat_id: int, reply: Reply) -> int | None:
        """Keep the nudge."""
        self.sent.append((chat_id, reply))
        return len(self.sent)


@asynccontextmanager
async def nudge_runtime(
    db: Database, tmp_path: Path, clock: FakeClock | None = None
) -> AsyncIterator[Runtime]:
    """A full runtime with the nudge extension plugged into the engine."""
    from bot.nlu.rules import RuleUnderstanding

    content, finder = shared_parts()
    extension = NudgeExtension(now=clock.now if clock else _utcnow)
    async with open_runtime(
        make_settings(db, tmp_path),
        understanding=RuleUnderstanding(),
        db_schema=db.schema,
        content=content,
        finder=finder,
        extensions=(extension,),
    ) as rt:
        yield rt


def _utcnow() -> datetime:
    """The real time (UTC)."""
    return datetime.now(UTC)


async def add_member(
    session: AsyncSession,
    telegram_id: int | None,
    *,
    name: str = "Sam",
    network: str = "default",
    consent: bool | None = True,
    skills: Iterable[tuple[str, str]] = (),
    wishes: Iterable[str] = (),
    prefs: dict[str, Any] | None = None,
    now: datetime = WINTER,
) -> Member:
    """A member as onboarding leaves them, with confirmed skills, wishes and preferences."""
    member = Member(
        telegram_id=telegram_id,
        local_id=None if telegram_id else f"local-{name}",
        first_name=name,
        network=network,
        consent=consent,
        last_active_at=now - timedelta(days=3),
    )
    session.add(member)
    await session.flush()
    session.add(ConversationState(member_id=member.id, status="active", data={}))
    for skill_id, category in skills:
        session.add(
            MemberSkill(
                member_id=member.id,
                skill_id=skill_id,
                category=category,
                label=skill_id.replace("_", " "),
                status="confirmed",
                source="question",
            )
        )
    for skill_id in wishes:
        session.add(LearningWish(member_id=member.id, skill_id=skill_id, label=skill_id))
    if prefs is not None:
        values = new_prefs(member.id, NudgeDefaults(), now)
        values.update(prefs)
        session.add(NudgePrefs(**values))
    await session.flush()
    return member


async def add_opportunity(session: AsyncSession, title: str, *categories: str, **extra: Any) -> int:
    """An open opportunity; returns its id."""
    values: dict[str, Any] = {
        "title": title,
        "description": "Come and help 🙂. We have tea and cake.",
        "emoji": "🍰",
        "categories": list(categories),
        "network": None,
        "when_text": "Tuesdays at 2 in the afternoon",
        "where_text": "The community centre",
        "contact": "Priya at the centre",
        "status": "open",
    }
    values.update(extra)
    opp = Opportunity(**values)
    session.add(opp)
    await session.flush()
    return opp.id


async def due_nudge(
    session: AsyncSession,
    member: Member,
    opportunity_id: int,
    *,
    due_at: datetime = WINTER,
    send_before: datetime | None = None,
) -> int:
    """A nudge waiting in the outbox for a member; returns its id."""
    row = NudgeOutbox(
        member_id=member.id,
        chat_id=int(member.telegram_id or 0),
        kind="opportunity",
        direction="give",
        opportunity_id=opportunity_id,
        due_at=due_at,
        send_before=send_before or due_at + timedelta(hours=9),
        status="pending",
    )
    session.add(row)
    await session.flush()
    return row.id


async def outbox(sessionmaker: async_sessionmaker[AsyncSession]) -> list[NudgeOutbox]:
    """Every outbox row, oldest first."""
    async with sessionmaker() as session:
        rows = await session.execute(select(NudgeOutbox).order_by(NudgeOutbox.id))
        return list(rows.scalars())


def planner_for(rt: Runtime) -> Planner:
    """The planner as the application builds it."""
    return Planner(rt.sessionmaker, {s.id: s.category for s in rt.content.taxonomy})


def fast_service(
    rt: Runtime, sender: Any, clock: FakeClock, *, worker: str | None = None, **extra: Any
) -> NudgeService:
    """A send sweep on a fake clock (30 a second, but no real waiting)."""
    pacer = Pacer(30, clock=clock.monotonic, sleep=clock.sleep)
    return NudgeService(
        rt.sessionmaker,
        rt.content,
        sender,
        staff_contact=rt.settings.staff_contact,
        pacer=pacer,
        worker=worker,
        now=clock.now,
        **extra,
    )


@asynccontextmanager
async def peer_bot(peer: BotApiPeer) -> AsyncIterator[Bot]:
    """A python-telegram-bot ``Bot`` talking to the loopback Bot API peer."""
    base_url, file_url = api_base_urls(peer.base_url)
    bot = Bot(
        TOKEN,
        base_url=base_url,
        base_file_url=file_url,
        request=HTTPXRequest(connection_pool_size=16),
    )
    await bot.initialize()
    try:
        yield bot
    finally:
        await bot.shutdown()


def peer_sender(bot: Bot) -> TelegramNudgeSender:
    """The Telegram sender the application uses."""
    return TelegramNudgeSender(bot)


def nudge_ids(peer: BotApiPeer) -> list[int]:
    """The nudge ids of every nudge message the peer received (from the button data)."""
    ids = []
    for call in peer.calls_of("sendMessage"):
        markup = call.params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = str(button.get("callback_data", ""))
                parsed = parse_answer(data.split(":", 1)[1]) if ":" in data else None
                if parsed is not None and data.endswith(":y"):
                    ids.append(parsed[0])
    return ids


async def seed_due_nudges(rt: Runtime, peer: BotApiPeer, count: int, first_id: int) -> list[int]:
    """``count`` members known to ``peer``, each with one nudge due now; the nudge ids."""
    ids = []
    async with rt.sessionmaker.begin() as session:
        opp = await add_opportunity(session, "Garden day", "gardening")
        for n in range(count):
            member = await add_member(session, first_id + n, name=f"M{n}", prefs={})
            peer.user(first_id + n, f"M{n}")
            ids.append(await due_nudge(session, member, opp))
    return ids
