"""The send sweep: claim due nudges from the outbox and send each one once.

How a nudge moves through the outbox::

    pending --claim--> claimed --mark--> sending --Telegram ok--> sent
                          |                 |---429-----------> pending (after retry_after)
                          |                 |---403-----------> blocked (never retried)
                          |                 |---400-----------> failed
                          |                 |---not sent------> pending (back-off), failed at last
                          |                 '---maybe sent----> unknown (never resent)
                          |--stop (SIGTERM)-------------------> pending   (never tried: safe)
                          '--lease over (sender died)---------> pending   (never tried: safe)
                 sending --lease over (sender died mid-call)---> unknown   (maybe sent: not resent)
        unknown/sending --the member taps one of its buttons---> sent      (it did arrive)

* A batch is claimed in one statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
  so two bot processes never claim the same row.
* Just before its Telegram call a row is marked ``sending`` in its own committed
  transaction, only if this sender still owns it. Every wait (pacing, a 429
  pause, room on the wire) and the message itself are done before that mark,
  so the only step after it is the request. A crash can therefore leave at most
  the calls on the wire undecided; those become ``unknown``: never sent again
  (a member never gets a nudge twice), and listed for staff (``skillspark
  nudges status``). A call that failed where the request may have reached
  Telegram (a read timeout, a dropped connection) is ``unknown`` too; one that
  certainly did not leave (no connection) is retried.
* Stopping (:meth:`NudgeService.stop`, on SIGTERM/SIGINT) is clean: no new
  claims, the calls on the wire finish and are recorded, claimed nudges not yet
  tried go back to ``pending``. A restart then sends each remaining nudge once.
* Rows claimed but not yet tried by a sender that died go back to ``pending``
  after the lease, or at once when that sender is found dead on this machine.
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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import DateTime, Integer, Table, bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from bot.content import Content
from bot.conversation import preferences
from bot.nudges.pacer import Pacer
from bot.nudges.prefs import WAITING, aware
from bot.nudges.schedule import Timing, is_quiet, next_slot, quiet_begins, zone
from bot.nudges.sql import Decoded, ids_param, in_ids, raw
from bot.nudges.texts import OpportunityText, opportunity_reply, peer_reply
from bot.types import Reply
from storage.models import Member, utcnow
from storage.models_nudges import NudgeOutbox, NudgePrefs, NudgeResponse, Opportunity, PeerMatch

log = logging.getLogger(__name__)

OUTBOX = cast(Table, NudgeOutbox.__table__)
PREFS = cast(Table, NudgePrefs.__table__)
RESPONSES = cast(Table, NudgeResponse.__table__)
MEMBERS = cast(Table, Member.__table__)
OPPORTUNITIES = cast(Table, Opportunity.__table__)
MATCHES = cast(Table, PeerMatch.__table__)
#: How often a draining sender looks for rows left by senders that died.
RECOVER_EVERY = timedelta(seconds=10)
#: Rows that are a sender's business (claimed, or with a call on the wire).
HELD = ("claimed", "sending")


class NudgeSender(Protocol):
    """Delivers one nudge to one member (the Telegram channel provides one).

    ``reply.buttons`` carry ``choice`` ids like ``nudge:42:y``; send them as
    callback data ``"0:" + choice`` (``bot.telegram.render.keyboard(reply.buttons, 0)``)
    so a tap comes back to the engine as ``Incoming("button", choice, 0)``.
    """

    async def send_nudge(self, chat_id: int, reply: Reply) -> int | None:
        """Send it at once (no waiting, no retrying: the sweep paces and retries);
        return the message id. Raise :class:`RetryLater` on 429, :class:`Blocked`
        on 403 (or a chat that is gone), :class:`Undeliverable` on another 400,
        :class:`MaybeSent` when the request may have reached Telegram but the
        answer was lost; any other exception means "certainly not sent" and the
        nudge is tried again later."""
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


class MaybeSent(Exception):
    """The request may have reached Telegram, but no answer came back (never resent)."""


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


@dataclass(slots=True)
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
    #: the member's own choices (``members.preferences``): heard, and fewer pictures
    read_aloud: bool = False
    fewer_pictures: bool = False


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

    async def acquire(self) -> None:
        """Wait for room on the wire."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._busy < self.allowed)
            self._busy += 1

    async def release(self) -> None:
        """Make room."""
        async with self._changed:
            self._busy -= 1
            self._changed.notify_all()

    async def __aenter__(self) -> None:
        """Wait for room on the wire."""
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        """Make room."""
        await self.release()


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
        self._current: asyncio.Future[SendReport] | None = None
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._drains = 0
        self._drained = asyncio.Condition()
        self._last_recover: datetime | None = None
        self._statements: dict[str, _Statements] = {}
        self._timings: dict[tuple[Any, ...], Timing] = {}
        self._texts: dict[tuple[Any, ...], OpportunityText] = {}
        self._decoded = Decoded()

    # ------------------------------------------------------------------ public

    @property
    def stopping(self) -> bool:
        """True once :meth:`begin_stop` (or :meth:`stop`) was called."""
        return self._stopping

    async def sweep(self) -> SendReport:
        """The APScheduler job: send everything due; returns at once if a sweep still runs.

        The drain runs in a task of its own: a scheduler shutting down cancels its
        jobs, and a call on the wire must still finish and be recorded.
        """
        if self._stopping or (self._current is not None and not self._current.done()):
            return SendReport()
        self._current = asyncio.ensure_future(self.drain())
        return await asyncio.shield(self._current)

    async def drain(self) -> SendReport:
        """Claim and send until nothing is due (or stopping begins)."""
        report = SendReport()
        async with self._drained:
            self._drains += 1
        try:
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
        finally:
            async with self._drained:
                self._drains -= 1
                self._drained.notify_all()
        return report

    def begin_stop(self) -> None:
        """Stop taking nudges now (safe to call from a signal handler's callback).

        Nothing new is claimed, and nudges waiting for their turn stop waiting;
        the calls already on the wire go on. :meth:`stop` waits for them.
        """
        self._stopping = True
        self._stop_event.set()

    async def stop(self, within: float = 30.0) -> int:
        """Stop cleanly: no new claims; wait (at most ``within`` seconds) for the calls
        on the wire to finish and be recorded; give back claimed nudges not yet tried.

        Returns how many claimed nudges went back to ``pending``. A call still on
        the wire after ``within`` stays ``sending`` and becomes ``unknown`` later
        (never resent).
        """
        self.begin_stop()
        try:
            async with asyncio.timeout(within):
                async with self._drained:
                    await self._drained.wait_for(lambda: self._drains == 0)
        except TimeoutError:
            log.warning(
                "nudge calls still on the wire after %.0f s; they will be listed as unknown",
                within,
            )
        async with self._connection() as conn:
            result = await conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.status == "claimed", OUTBOX.c.claimed_by == self.worker)
                .values(status="pending", claimed_by=None, lease_until=None)
            )
        released = int(getattr(result, "rowcount", 0) or 0)
        if released:
            log.info("nudge sending stopped; %d nudges wait for the next start", released)
        return released

    async def recover(self) -> SendReport:
        """Settle rows of senders that died: untried ones go back, in-flight ones are marked.

        A row left ``sending`` becomes ``unknown`` (maybe sent, never resent),
        or ``sent`` if the member has already answered it.
        """
        report = SendReport()
        now = self.now()
        dead = await self._dead_local_workers()
        async with self._connection() as conn:
            expired = OUTBOX.c.lease_until < now
            owner_dead = OUTBOX.c.claimed_by.in_(dead) if dead else None
            gone = expired if owner_dead is None else (expired | owner_dead)
            result = await conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.status == "claimed", gone)
                .values(status="pending", claimed_by=None, lease_until=None)
            )
            report.released = int(getattr(result, "rowcount", 0) or 0)
            answered = exists().where(RESPONSES.c.nudge_id == OUTBOX.c.id)
            await conn.execute(  # the member tapped a button on it: it did arrive
                update(OUTBOX)
                .where(OUTBOX.c.status == "sending", gone, answered)
                .values(status="sent", sent_at=now, last_error="the member answered it")
            )
            result = await conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.status == "sending", gone)
                .values(status="unknown", last_error="the sender stopped during the call")
            )
            report.unknown = int(getattr(result, "rowcount", 0) or 0)
        if report.unknown:
            log.warning(
                "%d nudges were on the wire when their sender stopped; not resent "
                "(skillspark nudges status lists them)",
                report.unknown,
            )
        return report

    # ------------------------------------------------------------------ claiming

    async def claim(self, limit: int) -> list[Claimed]:
        """Take up to ``limit`` due rows for this sender (never a row another sender holds)."""
        now = self.now()
        params = {"now": now, "limit": limit, "worker": self.worker, "lease": now + self.lease}
        async with self._connection() as conn:
            sql = self._sql(conn)
            if sql.claim_with_details is not None:
                rows = (await conn.execute(sql.claim_with_details, params)).all()
            else:
                ids = (await conn.execute(sql.claim_ids, params)).scalars().all()
                if not ids:
                    return []
                found = await conn.execute(sql.details, {"ids": ids_param(ids, sql.db)})
                rows = found.all()
        claimed = [self._claimed(r) for r in rows]
        claimed.sort(key=lambda c: (c.due_at, c.id))
        return claimed

    def _sql(self, conn: AsyncConnection) -> _Statements:
        """The sender's statements for this database (built once)."""
        db = conn.dialect.name
        statements = self._statements.get(db)
        if statements is None:
            statements = self._statements[db] = _Statements(db)
        return statements

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        """One short transaction (committed on leaving)."""
        async with self.sessionmaker.begin() as session:
            yield await session.connection()

    async def _dead_local_workers(self) -> list[str]:
        """Workers on this machine (other than this one) whose process has ended."""
        host = self.worker.split(":", 1)[0] + ":"
        async with self._connection() as conn:
            names = (
                await conn.execute(
                    select(OUTBOX.c.claimed_by)
                    .where(
                        OUTBOX.c.status.in_(HELD),
                        OUTBOX.c.claimed_by.startswith(host, autoescape=True),
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

    def _claimed(self, r: Any) -> Claimed:
        """A detail row as a :class:`Claimed` (timings and texts shared between rows)."""
        (
            row_id,
            member_id,
            chat_id,
            kind,
            due_at,
            send_before,
            attempts,
            first_name,
            language,
            consent,
            enabled,
            *timing_key,
        ) = r[:16]
        (
            asked_count,
            *text,
            opp_status,
            closes_on,
            match_label,
            match_skill,
            match_status,
            member_prefs,
        ) = r[16:]
        timing_key = tuple(timing_key)
        timing = self._timings.get(timing_key)
        if timing is None:
            timing = Timing(*timing_key) if timing_key[0] is not None else Timing()
            if len(self._timings) > 1000:
                self._timings.clear()
            self._timings[timing_key] = timing
        opportunity = None
        if text[0] is not None:
            text_key = tuple(text)
            opportunity = self._texts.get(text_key)
            if opportunity is None:
                opportunity = OpportunityText(*text_key)
                if len(self._texts) > 1000:
                    self._texts.clear()
                self._texts[text_key] = opportunity
        if isinstance(closes_on, str):
            closes_on = date.fromisoformat(closes_on)
        decoded = self._decoded
        return Claimed(
            row_id,
            member_id,
            chat_id,
            kind,
            decoded.time(due_at) or utcnow(),
            decoded.time(send_before),
            attempts,
            first_name or "",
            language or "en",
            bool(consent),
            True if enabled is None else bool(enabled),
            timing,
            asked_count or 0,
            opportunity,
            opp_status == "open",
            match_label or "",
            match_skill or "",
            match_status == "approved",
            closes_on,
            preferences.of_member(member_prefs, preferences.READ_ALOUD),
            preferences.of_member(member_prefs, preferences.FEWER_PICTURES),
        )

    # ------------------------------------------------------------------ sending

    async def _send_all(self, rows: list[Claimed]) -> SendReport:
        """Send a claimed batch: paced, a few calls at a time, each row on its own."""
        report = SendReport()

        async def one(row: Claimed) -> None:
            if not await self._unless_stopping(self.pacer.wait(row.chat_id)):
                return  # stopping: the row stays claimed and stop() gives it back
            if not await self._unless_stopping(self._gate.acquire()):
                return
            try:
                await self._attempt(row, report)
            finally:
                await self._gate.release()

        await asyncio.gather(*(one(r) for r in rows))
        return report

    async def _unless_stopping(self, waiting: Awaitable[None]) -> bool:
        """Wait for ``waiting``; False (the wait abandoned) when stopping begins first."""
        task = asyncio.ensure_future(waiting)
        if self._stopping:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return False
        stopper = asyncio.ensure_future(self._stop_event.wait())
        try:
            await asyncio.wait((task, stopper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if task.done() and not task.cancelled():
            task.result()  # raise what the wait raised
            return True
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False

    async def _attempt(self, row: Claimed, report: SendReport) -> None:
        """Check, render, wait for the moment, mark ``sending``, call Telegram, record."""
        now = self.now()
        if self._stopping:
            return  # stop() gives the row back
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
        # Everything that may wait happens before the mark, so that once a row is
        # ``sending`` the request is the next thing this process does.
        if not await self._unless_stopping(self.pacer.before_call()) or self._stopping:
            return
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
        except MaybeSent as exc:
            await self._finish(
                row, "sending", status="unknown", last_error=f"maybe sent: {exc}"[:200]
            )
            report.unknown += 1
            log.warning(
                "nudge %d: the answer from Telegram was lost (%s); it is not resent",
                row.id,
                exc,
            )
        except Exception as exc:  # certainly not sent (the sender says so): try again later
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
                row,
                "sending",
                also=("sent",),  # the member may have answered it already
                status="sent",
                sent_at=self.now(),
                message_id=message_id,
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
        async with self._connection() as conn:
            result = await conn.execute(
                self._sql(conn).mark_sending,
                {"row": row.id, "worker": self.worker, "lease": now + self.lease},
            )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def _finish(
        self, row: Claimed, from_status: str, *, also: tuple[str, ...] = (), **values: Any
    ) -> None:
        """Record an outcome, only while this sender still owns the row."""
        states = ("sending", "unknown") if from_status == "sending" else (from_status,)
        async with self._connection() as conn:
            await conn.execute(
                update(OUTBOX)
                .where(
                    OUTBOX.c.id == row.id,
                    OUTBOX.c.status.in_(states + also),
                    OUTBOX.c.claimed_by == self.worker,
                )
                .values(**values)
            )

    async def _blocked(self, row: Claimed) -> None:
        """The member blocked the bot: mark them, drop their waiting nudges, never retry."""
        now = self.now()
        async with self._connection() as conn:
            await conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id == row.id, OUTBOX.c.claimed_by == self.worker)
                .values(status="blocked", last_error="403 the member blocked the bot")
            )
            await conn.execute(
                update(PREFS)
                .where(PREFS.c.member_id == row.member_id)
                .values(blocked_at=now, updated_at=now)
            )
            await conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.member_id == row.member_id, OUTBOX.c.status.in_(WAITING))
                .values(
                    status="cancelled", claimed_by=None, last_error="the member blocked the bot"
                )
            )
        log.info(
            "member %d has blocked the bot; no more nudges until they write again", row.member_id
        )

    def _render(self, row: Claimed) -> Reply:
        """The message for a claimed nudge, in the member's language, as they like it."""
        reply = self._compose(row)
        if row.fewer_pictures:
            reply = preferences.with_fewer_pictures(reply)
        return replace(reply, voice=True) if row.read_aloud else reply

    def _compose(self, row: Claimed) -> Reply:
        """The words and buttons of a claimed nudge, in the member's language."""

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


class _Statements:
    """The sender's statements for one database, built once (only parameters change)."""

    def __init__(self, db: str) -> None:
        """Build the statements for dialect ``db``."""
        self.db = db
        at = DateTime(timezone=True)
        outbox = OUTBOX
        due = (
            select(outbox.c.id)
            .where(outbox.c.status == "pending", outbox.c.due_at <= bindparam("now", type_=at))
            .order_by(outbox.c.due_at, outbox.c.id)
            .limit(bindparam("limit", type_=Integer))
        )
        if db == "postgresql":
            due = due.with_for_update(skip_locked=True)
        claim = (
            update(outbox)
            .where(outbox.c.id.in_(due.scalar_subquery()))
            .values(
                status="claimed",
                claimed_by=bindparam("worker"),
                lease_until=bindparam("lease", type_=at),
            )
        )
        self.claim_ids = claim.returning(outbox.c.id)
        self.details = _details(outbox, outbox.c.id, in_ids(outbox.c.id, "ids", db))
        #: PostgreSQL: claim and read the details in one statement.
        self.claim_with_details: Any = None
        if db == "postgresql":
            claimed = claim.returning(*_OUTBOX_DETAILS).cte("claimed")
            self.claim_with_details = _details(claimed, claimed.c.id, None)
        self.mark_sending = (
            update(outbox)
            .where(
                outbox.c.id == bindparam("row", type_=Integer),
                outbox.c.status == "claimed",
                outbox.c.claimed_by == bindparam("worker"),
            )
            .values(
                status="sending",
                lease_until=bindparam("lease", type_=at),
                attempts=outbox.c.attempts + 1,
            )
        )


_OUTBOX_DETAILS = (
    OUTBOX.c.id,
    OUTBOX.c.member_id,
    OUTBOX.c.chat_id,
    OUTBOX.c.kind,
    OUTBOX.c.due_at,
    OUTBOX.c.send_before,
    OUTBOX.c.attempts,
    OUTBOX.c.opportunity_id,
    OUTBOX.c.match_id,
)


def _details(rows: Any, row_id: Any, where: Any) -> Any:
    """The columns a sender needs about claimed rows (member, timing, the offer).

    ``rows`` is the outbox table or a CTE of claimed outbox rows.
    """
    c = rows.c
    stmt = (
        select(  # the order matters: NudgeService._claimed unpacks rows by position
            row_id.label("id"),
            c.member_id,
            c.chat_id,
            c.kind,
            raw(c.due_at).label("due_at"),
            raw(c.send_before).label("send_before"),
            c.attempts,
            MEMBERS.c.first_name,
            MEMBERS.c.language,
            MEMBERS.c.consent,
            PREFS.c.enabled,
            PREFS.c.timezone,
            PREFS.c.days_mask,
            PREFS.c.time_minutes,
            PREFS.c.quiet_start,
            PREFS.c.quiet_end,
            PREFS.c.asked_count,
            OPPORTUNITIES.c.title,
            OPPORTUNITIES.c.description,
            OPPORTUNITIES.c.emoji,
            OPPORTUNITIES.c.when_text,
            OPPORTUNITIES.c.where_text,
            OPPORTUNITIES.c.contact,
            OPPORTUNITIES.c.status.label("opp_status"),
            raw(OPPORTUNITIES.c.closes_on).label("closes_on"),
            MATCHES.c.label.label("match_label"),
            MATCHES.c.skill_id.label("match_skill"),
            MATCHES.c.status.label("match_status"),
            MEMBERS.c.preferences,
        )
        .select_from(rows)
        .join(MEMBERS, MEMBERS.c.id == c.member_id)
        .outerjoin(PREFS, PREFS.c.member_id == c.member_id)
        .outerjoin(OPPORTUNITIES, OPPORTUNITIES.c.id == c.opportunity_id)
        .outerjoin(MATCHES, MATCHES.c.id == c.match_id)
    )
    return stmt if where is None else stmt.where(where)


def _missed(row: Claimed, now: datetime) -> bool:
    """True when sending now would break quiet hours or the nudge's window has passed."""
    send_before = aware(row.send_before)
    if send_before is not None and now >= send_before:
        return True
    return is_quiet(now, row.timing)
