"""Scheduled work (APScheduler): the retention purge and the staff-alert sweep.

Schedules are not state: every job reads what it must do from the database, so
a restart loses nothing. Each job runs in its own transaction.

With several bot processes on one database every process schedules every job,
and :class:`RunOnce` lets one of them run it: the process holding the job's
lease row (``storage/leases.py``) runs it and renews the lease each time; the
others skip their turn until the lease runs out (the holder died), then one of
them takes the job over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from storage import repo
from storage.models import StaffAlert, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Finds who should hear about an alert in a network: a list of Telegram ids.
Recipients = Callable[[AsyncSession, str], Awaitable[list[int]]]


class AlertSender(Protocol):
    """Delivers a staff alert (the Telegram channel provides one)."""

    async def send_alert(self, telegram_id: int, text: str) -> None:
        """Send one alert text to one staff member; raise on failure."""
        ...


async def purge_old_answers(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> int:
    """Delete free-text answers older than the retention period; return how many."""
    cutoff = utcnow() - timedelta(days=round(settings.retention_months * 30.44))
    async with sessionmaker.begin() as session:
        purged = await repo.purge_old_text(session, cutoff)
        if purged:
            await repo.audit(session, "bot", "retention_purge", None, {"answers": purged})
    log.info("retention purge removed %d old free-text answers", purged)
    return purged


def alert_text(alert: StaffAlert) -> str:
    """The words staff receive for one alert (member's exact words for distress)."""
    if alert.kind == "distress":
        return (
            f"SkillSpark safeguarding alert (network {alert.network}).\n"
            f"Member {alert.member_id} wrote:\n\u201c{alert.text}\u201d\n"
            "The member was given the emergency numbers and told staff would be in touch."
        )
    if alert.kind == "help":
        return (
            f"SkillSpark: a member asked for help (network {alert.network}).\n"
            f"Member {alert.member_id}: {alert.text}\n"
            "Please get in touch with them. This is not a safety alert."
        )
    return f"SkillSpark notice (network {alert.network}): {alert.text}"


async def sweep_alerts(
    sessionmaker: async_sessionmaker[AsyncSession],
    sender: AlertSender,
    recipients: Recipients,
    *,
    limit: int = 50,
) -> int:
    """Deliver due staff alerts; failed ones are retried later with back-off.

    On PostgreSQL rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several bot
    processes never deliver the same alert twice.
    """
    delivered = 0
    stopped = False
    async with sessionmaker.begin() as session:
        now = utcnow()
        stmt = (
            select(StaffAlert)
            .where(StaffAlert.delivered_at.is_(None))
            .where(StaffAlert.next_attempt_at <= now)
            .order_by(StaffAlert.id)
            .limit(limit)
        )
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        alerts = (await session.execute(stmt)).scalars().all()
        for alert in alerts:
            staff = await recipients(session, alert.network)
            try:
                if not staff:
                    raise RuntimeError(f"no staff to alert in network {alert.network!r}")
                for telegram_id in staff:
                    await sender.send_alert(telegram_id, alert_text(alert))
            except asyncio.CancelledError:
                # the bot is stopping: keep the alerts delivered so far (committed below, so
                # staff do not get them again); this one is sent again after the restart
                stopped = True
                break
            except Exception as exc:
                alert.attempts += 1
                delay = min(3600, 15 * 2 ** min(alert.attempts, 8))
                alert.next_attempt_at = now + timedelta(seconds=delay)
                alert.last_error = type(exc).__name__[:200]
                log.warning("staff alert %s not delivered (attempt %d)", alert.id, alert.attempts)
                continue
            alert.delivered_at = now
            alert.attempts += 1
            delivered += 1
            await repo.audit(
                session,
                "bot",
                "alert_delivered",
                alert.member_id,
                {"alert_id": alert.id, "staff": staff},
            )
    if stopped:
        log.info("stopped while sending a staff alert; it is sent again at the next start")
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError  # this job itself was stopped
    return delivered


class RunOnce:
    """Jobs that run in one bot process at a time across every process on the database."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], owner: str, lease_s: float = 30.0
    ) -> None:
        """Run as process ``owner``; a job's lease lasts ``lease_s`` (or two runs, if longer)."""
        self.sessionmaker = sessionmaker
        self.owner = owner
        self.lease_s = lease_s
        #: job name -> runs skipped because another process holds the job
        self.skipped: dict[str, int] = {}
        self.ran: dict[str, int] = {}

    def wrap(
        self, name: str, job: Callable[..., Awaitable[T]], every_s: float
    ) -> Callable[..., Awaitable[T | None]]:
        """``job`` run only while this process holds the lease of ``name``; ``None`` when skipped.

        The lease outlasts two runs, so the holder keeps it from run to run;
        when the holder dies another process runs the job after at most that long.
        """
        seconds = max(self.lease_s, 2 * every_s)

        async def once(*args: Any, **kwargs: Any) -> T | None:
            if not await self.claim(name, seconds):
                self.skipped[name] = self.skipped.get(name, 0) + 1
                return None
            self.ran[name] = self.ran.get(name, 0) + 1
            return await job(*args, **kwargs)

        once.__name__ = once.__qualname__ = f"once_{name}"
        return once

    async def claim(self, name: str, seconds: float) -> bool:
        """Take or renew the job's lease; False while another process holds it (or on error)."""
        from storage.leases import claim_job

        try:
            async with self.sessionmaker.begin() as session:
                return await claim_job(session, name, self.owner, seconds)
        except Exception as exc:
            log.warning("job %s skipped: its lease could not be checked (%s)", name, exc)
            return False


def start_scheduler(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    sender: AlertSender | None = None,
    recipients: Recipients | None = None,
    once: RunOnce | None = None,
) -> AsyncIOScheduler:
    """Start the jobs: the daily retention purge and, with a sender, the alert sweep.

    With ``once`` each job runs in one process at a time (several processes).
    """
    scheduler = AsyncIOScheduler(timezone="UTC")
    purge: Callable[..., Awaitable[Any]] = purge_old_answers
    sweep: Callable[..., Awaitable[Any]] = sweep_alerts
    if once is not None:
        purge = once.wrap("retention_purge", purge_old_answers, 24 * 3600)
        sweep = once.wrap("alert_sweep", sweep_alerts, settings.alert_sweep_seconds)
    scheduler.add_job(
        purge,
        "interval",
        hours=24,
        args=[sessionmaker, settings],
        id="retention_purge",
        next_run_time=utcnow() + timedelta(seconds=30),
        coalesce=True,
        max_instances=1,
    )
    if sender is not None and recipients is not None:
        scheduler.add_job(
            sweep,
            "interval",
            seconds=settings.alert_sweep_seconds,
            args=[sessionmaker, sender, recipients],
            id="alert_sweep",
            next_run_time=utcnow(),
            coalesce=True,
            max_instances=1,
        )
    scheduler.start()
    return scheduler
