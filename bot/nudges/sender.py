"""The send sweep: claim due nudges from the outbox and send each one once.

How a nudge moves through the outbox::

    pending --claim--> claimed --mark--> sending --Telegram ok--> sent
                          |                 |---429-----------> pending (after retry_after)
                          |                 |---403-----------> blocked (never retried)
                          |                 |---400-----------> failed
                          |                 '---other error---> pending (back-off), failed at last
                          '--lease over (sender died)---------> pending   (never tried: safe)
                 sending --lease over (sender died mid-call)---> unknown   (maybe sent: not resent)

* A batch is claimed in one statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
  so two bot processes never claim the same row.
* Just before its Telegram call a row is marked ``sending`` in its own committed
  transaction, only if this sender still owns it. A crash can therefore leave
  at most the calls on the wire undecided; those become ``unknown`` and are
  never sent again (a member never gets a nudge twice). Rows claimed but not yet
  tried go back to ``pending`` after the lease, or at once when the sender that
  claimed them is found dead on this machine.
* Pacing: ``rate`` a second overall (never more in any 1-second window) and 1
  a second per chat (:class:`Pacer`); a 429 pauses every send for
  ``retry_after``; quiet hours are checked at the moment of sending, and a nudge
  that missed its window waits for the member's next good time.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Row, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import Content
from bot.nudges.pacer import Pacer
from bot.nudges.prefs import WAITING, aware
from bot.nudges.schedule import Timing, is_quiet, next_slot, quiet_begins, zone
from bot.nudges.texts import OpportunityText, opportunity_reply, peer_reply
from bot.types import Reply
from storage.models import Member, utcnow
from storage.models_nudges import NudgeOutbox, NudgePrefs, Opportunity, PeerMatch

log = logging.getLogger(__name__)

OUTBOX = cast(Table, NudgeOutbox.__table__)
#: How often a draining sender looks for rows left by senders that died.
RECOVER_EVERY = timedelta(seconds=10)


class NudgeSender(Protocol):
    """Delivers one nudge to one member (the Telegram channel provides one).

    ``reply.buttons`` carry ``choice`` ids like ``nudge:42:y``; send them as
    callback data ``"0:" + choice`` (``bot.telegram.render.keyboard(reply.buttons, 0)``)
    so a tap comes back to the engine as ``Incoming("button", choice, 0)``.
    """

    async def send_nudge(self, chat_id: int, reply: Reply) -> int | None:
        """Send it; return the message id. Raise :class:`RetryLater` on 429,
        :class:`Blocked` on 403 (or a chat that is gone), :class:`Undeliverable`
        on another 400; any other exception is a passing failure, retried later."""
        ...


class RetryLater(Exception):
    """Telegram said "too many requests": wait ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        """Keep how long to wait."""
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = float(retry_after)


class Blocked(Exception):
    """The member blocked the bot (403) or their chat is gone: never retry."""


class Undeliverable(Exception):
    """Telegram refused this message (400): retrying would not help."""


@dataclass
class SendReport:
    """What one drain of the outbox did."""

    sent: int = 0
    blocked: int = 0
    failed: int = 0
    retried: int = 0
    deferred: int = 0
    cancelled: int = 0
    released: int = 0
    unknown: int = 0
    rate_limited: int = 0
    claims: int = 0
    claim_seconds: float = 0.0

    def add(self, other: SendReport) -> None:
        """Add another report's counts to this one."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Claimed:
    """A claimed nudge with what is needed to render and check it."""

    id: int
    member_id: int
    chat_id: int
    kind: str
    due_at: datetime
    send_before: datetime | None
    attempts: int
    first_name: str
    language: str
    consent: bool
    enabled: bool
    timing: Timing
    asked_count: int
    opportunity: OpportunityText | None = None
    opportunity_open: bool = False
    match_label: str = ""
    match_skill: str = ""
    match_open: bool = False
    closes_on: date | None = None


class InFlight:
    """How many Telegram calls may be on the wire at once: only as many as the rate needs.

    Each call on the wire is a nudge whose fate is unknown if the process dies
    right then, so this keeps them few: about ``rate`` times the calls' latency,
    with room to spare, between 1 and ``most``.
    """

    def __init__(self, most: int, *, rate: float) -> None:
        """Allow at most ``most`` at once, fewer while calls are quick."""
        self.most = max(1, most)
        self.rate = rate
        self.latency = 0.0
        self._busy = 0
        self._changed = asyncio.Condition()

    @property
    def allowed(self) -> int:
        """Calls allowed on the wire now."""
        return max(1, min(self.most, math.ceil(self.rate * self.latency * 1.5)))

    def took(self, seconds: float) -> None:
        """Learn from one call's latency (a moving average)."""
        self.latency = seconds if self.latency == 0 else 0.8 * self.latency + 0.2 * seconds

    async def __aenter__(self) -> None:
        """Wait for room on the wire."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._busy < self.allowed)
            self._busy += 1

    async def __aexit__(self, *exc: object) -> None:
        """Make room."""
        async with self._changed:
            self._busy -= 1
            self._changed.notify_all()


def worker_name() -> str:
    """A name for this sender process: host, process id and a random part."""
    host = socket.gethostname()[:30]
    return f"{host}:{os.getpid()}:{secrets.token_hex(4)}"


def _alive(pid: int) -> bool:
    """True when a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class NudgeService:
    """Sends due nudges from the outbox (one per process; the APScheduler job calls it)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        content: Content,
        sender: NudgeSender,
        *,
        staff_contact: str = "your support worker",
        pacer: Pacer | None = None,
        worker: str | None = None,
        batch: int = 60,
        concurrency: int = 8,
        lease: timedelta = timedelta(seconds=30),
        max_attempts: int = 5,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        """Wire the sweep to storage, the messages and a channel's sender."""
        self.sessionmaker = sessionmaker
        self.content = content
        self.sender = sender
        self.staff_contact = staff_contact
        self.pacer = pacer or Pacer()
        self.worker = (worker or worker_name())[:64]
        self.batch = batch
        self.concurrency = concurrency
        self._gate = InFlight(concurrency, rate=1.0 / self.pacer.interval)
        self.lease = lease
        self.max_attempts = max_attempts
        self.now = now
        self._running: asyncio.Lock = asyncio.Lock()
        self._stopping = False
        self._last_recover: datetime | None = None

    # ------------------------------------------------------------------ public

    async def sweep(self) -> SendReport:
        """The APScheduler job: send everything due; returns at once if a sweep still runs."""
        if self._running.locked() or self._stopping:
            return SendReport()
        async with self._running:
            return await self.drain()

    async def drain(self) -> SendReport:
        """Claim and send until nothing is due (or :meth:`stop` is called)."""
        report = SendReport()
        while not self._stopping:
            now = self.now()
            if self._last_recover is None or now - self._last_recover > RECOVER_EVERY:
                report.add(await self.recover())
                self._last_recover = now
            started = time.perf_counter()
            rows = await self.claim(self.batch)
            report.claim_seconds += time.perf_counter() - started
            if not rows:
                break
            report.claims += 1
            report.add(await self._send_all(rows))
        return report

    async def stop(self) -> None:
        """Finish the calls on the wire, give back claimed rows, and stop."""
        self._stopping = True
        async with self._running:
            pass
        async with self.sessionmaker.begin() as session:
            await session.execute(
                update(NudgeOutbox)
                .where(NudgeOutbox.status == "claimed", NudgeOutbox.claimed_by == self.worker)
                .values(status="pending", claimed_by=None, lease_until=None)
            )

    async def recover(self) -> SendReport:
        """Settle rows of senders that died: untried ones go back, in-flight ones are marked."""
        report = SendReport()
        now = self.now()
        dead = await self._dead_local_workers()
        async with self.sessionmaker.begin() as session:
            expired = NudgeOutbox.lease_until < now
            owner_dead = NudgeOutbox.claimed_by.in_(dead) if dead else None
            gone = expired if owner_dead is None else (expired | owner_dead)
            result = await session.execute(
                update(NudgeOutbox)
                .where(NudgeOutbox.status == "claimed", gone)
                .values(status="pending", claimed_by=None, lease_until=None)
            )
            report.released = int(getattr(result, "rowcount", 0) or 0)
            result = await session.execute(
                update(NudgeOutbox)
                .where(NudgeOutbox.status == "sending", gone)
                .values(status="unknown", last_error="the sender stopped during the call")
            )
            report.unknown = int(getattr(result, "rowcount", 0) or 0)
        if report.unknown:
            log.warning(
                "%d nudges were on the wire when their sender stopped; not resent", report.unknown
            )
        return report

    # ------------------------------------------------------------------ claiming

    async def claim(self, limit: int) -> list[Claimed]:
        """Take up to ``limit`` due rows for this sender (never a row another sender holds)."""
        now = self.now()
        async with self.sessionmaker.begin() as session:
            due = (
                select(NudgeOutbox.id)
                .where(NudgeOutbox.status == "pending", NudgeOutbox.due_at <= now)
                .order_by(NudgeOutbox.due_at, NudgeOutbox.id)
                .limit(limit)
            )
            if _dialect(session) == "postgresql":
                due = due.with_for_update(skip_locked=True)
            table = OUTBOX
            result = await session.execute(
                update(table)
                .where(table.c.id.in_(due.scalar_subquery()))
                .values(status="claimed", claimed_by=self.worker, lease_until=now + self.lease)
                .returning(table.c.id)
            )
            ids = [int(i) for i in result.scalars()]
            if not ids:
                return []
            rows = await session.execute(_details().where(NudgeOutbox.id.in_(ids)))
            claimed = [_claimed(r) for r in rows.all()]
        claimed.sort(key=lambda c: (c.due_at, c.id))
        return claimed

    async def _dead_local_workers(self) -> list[str]:
        """Workers on this machine (other than this one) whose process has ended."""
        host = self.worker.split(":", 1)[0] + ":"
        async with self.sessionmaker() as session:
            names = (
                await session.execute(
                    select(NudgeOutbox.claimed_by)
                    .where(
                        NudgeOutbox.status.in_(("claimed", "sending")),
                        NudgeOutbox.claimed_by.startswith(host, autoescape=True),
                    )
                    .distinct()
                )
            ).scalars()
            dead = []
            for name in names:
                if not name or name == self.worker:
                    continue
                parts = name.split(":")
                if len(parts) != 3 or not parts[1].isdigit():
                    continue
                same_pid = int(parts[1]) == os.getpid()
                if same_pid or not _alive(int(parts[1])):
                    dead.append(name)
            return dead

    # ------------------------------------------------------------------ sending

    async def _send_all(self, rows: list[Claimed]) -> SendReport:
        """Send a claimed batch: paced, a few calls at a time, each row on its own."""
        report = SendReport()

        async def one(row: Claimed) -> None:
            await self.pacer.wait(row.chat_id)
            async with self._gate:
                await self._attempt(row, report)

        await asyncio.gather(*(one(r) for r in rows))
        return report

    async def _attempt(self, row: Claimed, report: SendReport) -> None:
        """Check, mark ``sending``, call Telegram, record the outcome."""
        now = self.now()
        if self._stopping:
            await self._finish(row, "claimed", status="pending", claimed_by=None, lease_until=None)
            report.released += 1
            return
        if not self._still_wanted(row, now):
            await self._finish(row, "claimed", status="cancelled", last_error="no longer wanted")
            report.cancelled += 1
            return
        if _missed(row, now):
            due_at = next_slot(now, row.timing, any_day=True)
            await self._finish(
                row,
                "claimed",
                status="pending",
                claimed_by=None,
                lease_until=None,
                due_at=due_at,
                send_before=quiet_begins(due_at, row.timing),
            )
            report.deferred += 1
            return
        reply = self._render(row)
        await self.pacer.before_call()
        if not await self._mark_sending(row, self.now()):
            return  # another sender took it over after our lease ran out
        started = time.monotonic()
        try:
            message_id = await self.sender.send_nudge(row.chat_id, reply)
        except RetryLater as exc:
            self.pacer.pause(exc.retry_after)
            report.rate_limited += 1
            await self._finish(
                row,
                "sending",
                status="pending",
                claimed_by=None,
                lease_until=None,
                attempts=row.attempts,
                due_at=self.now() + timedelta(seconds=exc.retry_after),
                last_error="429 too many requests",
            )
            log.warning("Telegram asked to wait %.0f s before sending more", exc.retry_after)
        except Blocked:
            await self._blocked(row)
            report.blocked += 1
        except Undeliverable as exc:
            await self._finish(row, "sending", status="failed", last_error=str(exc)[:200])
            report.failed += 1
        except Exception as exc:  # a passing failure: try again later
            attempts = row.attempts + 1
            final = attempts >= self.max_attempts
            await self._finish(
                row,
                "sending",
                status="failed" if final else "pending",
                claimed_by=None,
                lease_until=None,
                due_at=self.now() + timedelta(seconds=min(3600, 30 * 2**attempts)),
                last_error=f"{type(exc).__name__}: {exc}"[:200],
            )
            if final:
                report.failed += 1
            else:
                report.retried += 1
            log.warning("nudge %d not sent (%s); attempt %d", row.id, type(exc).__name__, attempts)
        else:
            self._gate.took(time.monotonic() - started)
            await self._finish(
                row, "sending", status="sent", sent_at=self.now(), message_id=message_id
            )
            report.sent += 1

    def _still_wanted(self, row: Claimed, now: datetime) -> bool:
        """The member still consents and wants nudges, and the offer still stands."""
        if not row.consent or not row.enabled:
            return False
        if row.kind == "opportunity":
            today = now.astimezone(zone(row.timing.timezone)).date()
            return row.opportunity_open and (row.closes_on is None or row.closes_on >= today)
        return row.match_open

    async def _mark_sending(self, row: Claimed, now: datetime) -> bool:
        """Record that the call is about to be made (committed first); False if not ours."""
        async with self.sessionmaker.begin() as session:
            result = await session.execute(
                update(NudgeOutbox)
                .where(
                    NudgeOutbox.id == row.id,
                    NudgeOutbox.status == "claimed",
                    NudgeOutbox.claimed_by == self.worker,
                )
                .values(
                    status="sending",
                    lease_until=now + self.lease,
                    attempts=NudgeOutbox.attempts + 1,
                )
            )
            return int(getattr(result, "rowcount", 0) or 0) == 1

    async def _finish(self, row: Claimed, from_status: str, **values: Any) -> None:
        """Record an outcome, only while this sender still owns the row."""
        states = ("sending", "unknown") if from_status == "sending" else (from_status,)
        async with self.sessionmaker.begin() as session:
            await session.execute(
                update(NudgeOutbox)
                .where(
                    NudgeOutbox.id == row.id,
                    NudgeOutbox.status.in_(states),
                    NudgeOutbox.claimed_by == self.worker,
                )
                .values(**values)
            )

    async def _blocked(self, row: Claimed) -> None:
        """The member blocked the bot: mark them, drop their waiting nudges, never retry."""
        now = self.now()
        async with self.sessionmaker.begin() as session:
            await session.execute(
                update(NudgeOutbox)
                .where(NudgeOutbox.id == row.id, NudgeOutbox.claimed_by == self.worker)
                .values(status="blocked", last_error="403 the member blocked the bot")
            )
            await session.execute(
                update(NudgePrefs)
                .where(NudgePrefs.member_id == row.member_id)
                .values(blocked_at=now, updated_at=now)
            )
            await session.execute(
                update(NudgeOutbox)
                .where(NudgeOutbox.member_id == row.member_id, NudgeOutbox.status.in_(WAITING))
                .values(
                    status="cancelled", claimed_by=None, last_error="the member blocked the bot"
                )
            )
        log.info(
            "member %d has blocked the bot; no more nudges until they write again", row.member_id
        )

    def _render(self, row: Claimed) -> Reply:
        """The message for a claimed nudge, in the member's language."""

        def text(key: str, **values: str) -> str:
            values.setdefault("name", row.first_name)
            values.setdefault("staff", self.staff_contact)
            return self.content.text(key, row.language, **values)

        if row.kind == "opportunity" and row.opportunity is not None:
            return opportunity_reply(text, row.id, row.opportunity, first=row.asked_count <= 1)
        info = self.content.taxonomy.get(row.match_skill)
        return peer_reply(
            text,
            row.id,
            teach=row.kind == "peer_teach",
            label=row.match_label,
            emoji=info.emoji if info else "🌟",
        )


def _dialect(session: AsyncSession) -> str:
    """The database dialect name of a session."""
    return session.bind.dialect.name if session.bind is not None else ""


def _missed(row: Claimed, now: datetime) -> bool:
    """True when sending now would break quiet hours or the nudge's window has passed."""
    send_before = aware(row.send_before)
    if send_before is not None and now >= send_before:
        return True
    return is_quiet(now, row.timing)


def _details() -> Any:
    """The columns a sender needs about claimed rows (member, timing, the offer)."""
    return (
        select(
            NudgeOutbox.id,
            NudgeOutbox.member_id,
            NudgeOutbox.chat_id,
            NudgeOutbox.kind,
            NudgeOutbox.due_at,
            NudgeOutbox.send_before,
            NudgeOutbox.attempts,
            Member.first_name,
            Member.language,
            Member.consent,
            NudgePrefs.enabled,
            NudgePrefs.timezone,
            NudgePrefs.days_mask,
            NudgePrefs.time_minutes,
            NudgePrefs.quiet_start,
            NudgePrefs.quiet_end,
            NudgePrefs.asked_count,
            Opportunity.title,
            Opportunity.description,
            Opportunity.emoji,
            Opportunity.when_text,
            Opportunity.where_text,
            Opportunity.contact,
            Opportunity.status.label("opp_status"),
            Opportunity.closes_on,
            PeerMatch.label.label("match_label"),
            PeerMatch.skill_id.label("match_skill"),
            PeerMatch.status.label("match_status"),
        )
        .join(Member, Member.id == NudgeOutbox.member_id)
        .outerjoin(NudgePrefs, NudgePrefs.member_id == NudgeOutbox.member_id)
        .outerjoin(Opportunity, Opportunity.id == NudgeOutbox.opportunity_id)
        .outerjoin(PeerMatch, PeerMatch.id == NudgeOutbox.match_id)
    )


def _claimed(r: Row[Any]) -> Claimed:
    """A detail row as a :class:`Claimed`."""
    timing = (
        Timing(r.timezone, r.days_mask, r.time_minutes, r.quiet_start, r.quiet_end)
        if r.timezone is not None
        else Timing()
    )
    opportunity = None
    if r.title is not None:
        opportunity = OpportunityText(
            title=r.title,
            description=r.description,
            emoji=r.emoji,
            when=r.when_text,
            where=r.where_text,
            contact=r.contact,
        )
    closes_on: date | None = r.closes_on
    return Claimed(
        id=int(r.id),
        member_id=int(r.member_id),
        chat_id=int(r.chat_id),
        kind=r.kind,
        due_at=aware(r.due_at) or utcnow(),
        send_before=aware(r.send_before),
        attempts=int(r.attempts),
        first_name=r.first_name or "",
        language=r.language or "en",
        consent=bool(r.consent),
        enabled=True if r.enabled is None else bool(r.enabled),
        timing=timing,
        asked_count=int(r.asked_count or 0),
        opportunity=opportunity,
        opportunity_open=r.opp_status == "open",
        match_label=r.match_label or "",
        match_skill=r.match_skill or "",
        match_open=r.match_status == "approved",
        closes_on=closes_on,
    )
