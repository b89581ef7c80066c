"""Staff commands for chat channels: ``/export`` with format buttons, a document back.

Channel-agnostic: nothing here imports ``telegram``. Two ways to use it:

* :func:`export_for_staff` checks the staff role and scope, writes the file,
  audits it and returns the file name and bytes (or a :class:`Refusal`).
* :class:`StaffCommands` wraps the conversation engine: ``/export`` and the
  format buttons are answered here, everything else goes to the engine. The
  Telegram channel uses it in place of the engine, so handlers stay thin.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.staff.data import ExportFilter
from bot.staff.export import ExitCode, ExportError, ExportRequest, default_filename, export_members
from bot.staff.labels import Labels
from bot.staff.pdf_export import PROFILE_KEYS
from bot.staff.roles import staff_scope
from bot.types import Button, Incoming, MemberKey, Reply
from storage import repo

log = logging.getLogger(__name__)

EXPORT_COMMAND = "export"
#: Staff ask for a one-time sign-in link to the staff desk (``bot/desk``).
DESK_COMMAND = "desk"
#: Button choice -> file format.
FORMAT_CHOICES = {"export_csv": "csv", "export_xlsx": "xlsx", "export_pdf": "pdf"}
#: Telegram bots may send documents up to 50 MB.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024

CHOOSE = "staff.export.choose"
DONE = "staff.export.done"
NONE = "staff.export.none"
TOO_BIG = "staff.export.too_big"
FAILED = "staff.export.failed"
ONLY_STAFF = "staff.only"
DESK_LINK = "staff.desk.link"
DESK_OFF = "staff.desk.off"
#: Every message key the staff commands use (checked when they are set up).
STAFF_KEYS = (
    CHOOSE,
    DONE,
    NONE,
    TOO_BIG,
    FAILED,
    ONLY_STAFF,
    DESK_LINK,
    DESK_OFF,
    *(f"button.{choice}" for choice in FORMAT_CHOICES),
    *PROFILE_KEYS,
)


@dataclass(frozen=True)
class ExportResult:
    """A finished export to send: file name, contents and how many members it holds."""

    filename: str
    content: bytes
    members: int


@dataclass(frozen=True)
class Refusal:
    """No file: ``key`` is the message to say, ``reason`` a short word for logs and tests."""

    key: str
    reason: str  # not_staff | nothing | too_big | failed


async def export_for_staff(
    sessionmaker: async_sessionmaker[AsyncSession],
    telegram_id: int,
    fmt: str,
    labels: Labels,
    *,
    timezone: str = "UTC",
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> ExportResult | Refusal:
    """Export for a staff member over a chat: their own network, or all for an admin."""
    actor = f"telegram:{telegram_id}"
    async with sessionmaker.begin() as session:
        scope = await staff_scope(session, telegram_id)
        if scope is None:
            await repo.audit(session, actor, "export_refused", None, {"format": fmt})
            return Refusal(ONLY_STAFF, "not_staff")
    request = ExportRequest(
        fmt=fmt,
        filt=ExportFilter(network=scope.networks),
        actor=actor,
        channel="telegram",
        timezone=timezone,
        max_bytes=max_bytes,
    )
    with tempfile.TemporaryDirectory(prefix="skillspark-export-") as folder:
        out = Path(folder) / default_filename(fmt)
        try:
            done = await export_members(sessionmaker, request, out, labels)
        except ExportError as exc:
            if exc.code in (ExitCode.NOTHING, ExitCode.UNKNOWN):
                return Refusal(NONE, "nothing")
            if exc.code is ExitCode.TOO_BIG:
                return Refusal(TOO_BIG, "too_big")
            log.warning("export for staff %d failed: %s", telegram_id, exc.message)
            return Refusal(FAILED, "failed")
        return ExportResult(done.path.name, done.path.read_bytes(), len(done.member_ids))


class ConversationEngine(Protocol):
    """What the staff commands need from the engine they wrap."""

    async def handle(
        self, member: MemberKey, incoming: Incoming, *, dedup_key: str | None = None
    ) -> list[Reply]:
        """Handle one input."""
        ...

    async def current_prompt(self, member: MemberKey) -> list[Reply]:
        """Show the member where they are."""
        ...


def is_staff_input(incoming: Incoming) -> bool:
    """True for ``/export`` and for a tap on one of its format buttons."""
    if incoming.kind == "command":
        return incoming.value in (EXPORT_COMMAND, DESK_COMMAND)
    return incoming.kind == "button" and incoming.value in FORMAT_CHOICES


class StaffCommands:
    """The engine with staff commands in front: use it wherever the engine is used."""

    def __init__(
        self,
        engine: ConversationEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        labels: Labels,
        *,
        timezone: str = "UTC",
        max_bytes: int = MAX_DOCUMENT_BYTES,
        desk_url: str | None = None,
    ) -> None:
        """Wrap ``engine``; fail now when a staff message is missing from the dialogues.

        ``desk_url``: where the staff desk is (``None`` when it is off).
        """
        missing = labels.missing(STAFF_KEYS)
        if missing:
            raise RuntimeError(f"dialogues are missing staff messages: {', '.join(missing)}")
        self.engine = engine
        self.sessionmaker = sessionmaker
        self.labels = labels
        self.timezone = timezone
        self.max_bytes = max_bytes
        self.desk_url = desk_url

    async def handle(
        self, member: MemberKey, incoming: Incoming, *, dedup_key: str | None = None
    ) -> list[Reply]:
        """Staff commands here; everything else to the engine."""
        if not is_staff_input(incoming):
            return await self.engine.handle(member, incoming, dedup_key=dedup_key)
        if dedup_key is not None:
            async with self.sessionmaker.begin() as session:
                if not await repo.claim_input(session, dedup_key, None):
                    return []
        telegram_id = _telegram_id(member)
        if incoming.kind == "command" and incoming.value == DESK_COMMAND:
            return await self._desk_link(member, telegram_id)
        if incoming.kind == "command":
            return await self._menu(member, telegram_id)
        if telegram_id is None:
            return await self._refuse(member)
        fmt = FORMAT_CHOICES[incoming.value]
        result = await export_for_staff(
            self.sessionmaker,
            telegram_id,
            fmt,
            self.labels,
            timezone=self.timezone,
            max_bytes=self.max_bytes,
        )
        if isinstance(result, Refusal):
            if result.reason == "not_staff":
                return await self._refuse(member)
            return [self._say(result.key)]
        text = self.labels.text(DONE, count=str(result.members))
        return [Reply(key=DONE, text=text, document=(result.filename, result.content))]

    async def current_prompt(self, member: MemberKey) -> list[Reply]:
        """The engine shows where the member is."""
        return await self.engine.current_prompt(member)

    async def _menu(self, member: MemberKey, telegram_id: int | None) -> list[Reply]:
        """Staff choose a format; anyone else gets a kind refusal."""
        if telegram_id is None:
            return await self._refuse(member)
        async with self.sessionmaker() as session:
            scope = await staff_scope(session, telegram_id)
        if scope is None:
            async with self.sessionmaker.begin() as session:
                await repo.audit(session, f"telegram:{telegram_id}", "export_refused", None, {})
            return await self._refuse(member)
        buttons = tuple(
            Button(choice, self.labels.text(f"button.{choice}")) for choice in FORMAT_CHOICES
        )
        return [Reply(key=CHOOSE, text=self.labels.text(CHOOSE), buttons=buttons)]

    async def _desk_link(self, member: MemberKey, telegram_id: int | None) -> list[Reply]:
        """A one-time sign-in link to the staff desk, for staff only."""
        from bot.desk.auth import make_link

        if telegram_id is None:
            return await self._refuse(member)
        async with self.sessionmaker.begin() as session:
            token = await make_link(session, telegram_id) if self.desk_url else None
            if token is None and await staff_scope(session, telegram_id) is None:
                await repo.audit(session, f"telegram:{telegram_id}", "desk_refused", None, {})
        if token is None:
            async with self.sessionmaker() as session:
                if await staff_scope(session, telegram_id) is None:
                    return await self._refuse(member)
            return [self._say(DESK_OFF)]
        link = f"{self.desk_url}/signin/link/{token}"
        return [Reply(key=DESK_LINK, text=self.labels.text(DESK_LINK, link=link))]

    async def _refuse(self, member: MemberKey) -> list[Reply]:
        """The kind refusal, then (for a member) the question they were on."""
        replies = [self._say(ONLY_STAFF)]
        async with self.sessionmaker() as session:
            known = await repo.find_member(session, member.channel, member.external_id)
        if known is not None:
            replies += await self.engine.current_prompt(member)
        return replies

    def _say(self, key: str) -> Reply:
        """A message without buttons."""
        return Reply(key=key, text=self.labels.text(key))


def _telegram_id(member: MemberKey) -> int | None:
    """The Telegram user id of whoever is talking (``None`` on other channels)."""
    if member.channel != "telegram":
        return None
    try:
        return int(member.external_id)
    except ValueError:
        return None
