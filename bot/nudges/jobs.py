"""Wiring: the nudge jobs on the application's APScheduler scheduler.

Three jobs, each reading everything it needs from the database (a restart loses
nothing): plan due members into the outbox, send what is due, and propose skill
swaps to staff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import Content
from bot.nudges.matches import propose_matches
from bot.nudges.pacer import Pacer
from bot.nudges.planner import Planner
from bot.nudges.prefs import NudgeDefaults
from bot.nudges.sender import NudgeSender, NudgeService
from storage.models import utcnow


@dataclass
class NudgeJobs:
    """The running nudge parts (stop the service before closing the database)."""

    planner: Planner
    service: NudgeService | None

    async def stop(self) -> None:
        """Let the send sweep finish its calls on the wire and give back its claims."""
        if self.service is not None:
            await self.service.stop()


async def propose_job(sessionmaker: async_sessionmaker[AsyncSession], max_open: int = 2) -> int:
    """Store new skill swap ideas for staff; returns how many."""
    async with sessionmaker.begin() as session:
        return len(await propose_matches(session, max_open=max_open))


def add_nudge_jobs(
    scheduler: BaseScheduler,
    sessionmaker: async_sessionmaker[AsyncSession],
    content: Content,
    settings: Any,
    sender: NudgeSender | None = None,
    *,
    start_in: timedelta = timedelta(seconds=20),
) -> NudgeJobs:
    """Add the planning, sending and matching jobs (sending only with a ``sender``).

    Settings read (optional, with defaults): ``nudge_plan_seconds`` (60),
    ``nudge_sweep_seconds`` (5), ``nudge_match_minutes`` (60), ``nudge_rate`` (28
    a second, leaving room for replies; divide by the number of bot processes),
    ``nudge_max_open_matches``
    (2), and the member defaults of :class:`NudgeDefaults`.
    """
    planner = Planner(
        sessionmaker,
        {s.id: s.category for s in content.taxonomy},
        NudgeDefaults.from_settings(settings),
    )
    first = utcnow() + start_in
    common: dict[str, Any] = {"coalesce": True, "max_instances": 1, "replace_existing": True}
    scheduler.add_job(
        planner.sweep,
        "interval",
        seconds=float(getattr(settings, "nudge_plan_seconds", 60.0)),
        id="nudge_plan",
        next_run_time=first,
        **common,
    )
    scheduler.add_job(
        propose_job,
        "interval",
        minutes=float(getattr(settings, "nudge_match_minutes", 60.0)),
        args=[sessionmaker, int(getattr(settings, "nudge_max_open_matches", 2))],
        id="peer_match_proposals",
        next_run_time=first,
        **common,
    )
    service = None
    if sender is not None:
        service = NudgeService(
            sessionmaker,
            content,
            sender,
            staff_contact=str(getattr(settings, "staff_contact", "your support worker")),
            pacer=Pacer(float(getattr(settings, "nudge_rate", 28.0))),
        )
        scheduler.add_job(
            service.sweep,
            "interval",
            seconds=float(getattr(settings, "nudge_sweep_seconds", 5.0)),
            id="nudge_send",
            next_run_time=first,
            **{**common, "max_instances": 2},  # the sweep itself returns if one still runs
        )
    return NudgeJobs(planner, service)
