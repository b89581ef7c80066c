"""Wiring: the nudge jobs on the application's APScheduler scheduler.

Three jobs, each reading everything it needs from the database (a restart loses
nothing): plan due members into the outbox, send what is due, and propose skill
swaps to staff.

Stopping (SIGTERM from systemd or docker, Ctrl-C): pass the bot's stop event as
``stop=`` so sending stops claiming at once, then ``await jobs.stop()`` before
closing the database: the calls on the wire finish and are recorded, claimed
nudges not yet tried go back to the outbox, and a restart sends each remaining
nudge once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import Content
from bot.jobs import RunOnce
from bot.nudges.matches import propose_matches
from bot.nudges.pacer import Pacer
from bot.nudges.planner import Planner
from bot.nudges.prefs import NudgeDefaults
from bot.nudges.sender import NudgeSender, NudgeService
from bot.settings import Settings
from storage.models import utcnow


@dataclass
class NudgeJobs:
    """The running nudge parts (stop the service before closing the database)."""

    planner: Planner
    service: NudgeService | None
    _watch: asyncio.Task[None] | None = None

    def stop_on(self, stop: asyncio.Event) -> None:
        """Stop taking nudges the moment ``stop`` is set (the bot's SIGTERM/SIGINT event).

        Sending then winds down while the rest of the bot shuts down; :meth:`stop`
        waits for it. Call from inside the running event loop.
        """
        service = self.service
        if service is None:
            return

        async def watch() -> None:
            await stop.wait()
            service.begin_stop()

        self._watch = asyncio.get_running_loop().create_task(watch(), name="nudge-stop-watch")

    async def stop(self, within: float = 30.0) -> None:
        """Stop sending: no new claims, finish and record the calls on the wire, give back
        the rest (see :meth:`NudgeService.stop`)."""
        if self._watch is not None:
            self._watch.cancel()
        if self.service is not None:
            await self.service.stop(within=within)


async def propose_job(sessionmaker: async_sessionmaker[AsyncSession], max_open: int = 2) -> int:
    """Store new skill swap ideas for staff; returns how many."""
    async with sessionmaker.begin() as session:
        return len(await propose_matches(session, max_open=max_open))


def add_nudge_jobs(
    scheduler: BaseScheduler,
    sessionmaker: async_sessionmaker[AsyncSession],
    content: Content,
    settings: Settings,
    sender: NudgeSender | None = None,
    *,
    start_in: timedelta = timedelta(seconds=20),
    stop: asyncio.Event | None = None,
    once: RunOnce | None = None,
) -> NudgeJobs:
    """Add the planning, sending and matching jobs (sending only with a ``sender``).

    Settings (``SKILLSPARK_NUDGE_*``, README): the sweep intervals, the planning
    cap, ``nudge_rate`` (28 a second, leaving room for replies),
    ``nudge_max_open_matches`` and the member defaults of :class:`NudgeDefaults`.
    With ``once`` (several processes on one database) each job runs in one
    process at a time (``bot.jobs.RunOnce``), so the rate is the bot's. With
    ``stop`` (the event the bot sets on SIGTERM/SIGINT), sending stops taking new
    nudges as soon as it is set.
    """
    planner = Planner(
        sessionmaker,
        {s.id: s.category for s in content.taxonomy},
        NudgeDefaults.from_settings(settings),
        per_sweep=settings.nudge_plan_per_sweep or None,
    )
    first = utcnow() + start_in
    guard: Callable[[str, Any, float], Any] = (
        once.wrap if once is not None else lambda _name, job, _every: job
    )
    common: dict[str, Any] = {"coalesce": True, "max_instances": 1, "replace_existing": True}
    scheduler.add_job(
        guard("nudge_plan", planner.sweep, settings.nudge_plan_seconds),
        "interval",
        seconds=settings.nudge_plan_seconds,
        id="nudge_plan",
        next_run_time=first,
        **common,
    )
    scheduler.add_job(
        guard("peer_match_proposals", propose_job, settings.nudge_match_minutes * 60),
        "interval",
        minutes=settings.nudge_match_minutes,
        args=[sessionmaker, settings.nudge_max_open_matches],
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
            staff_contact=settings.staff_contact,
            pacer=Pacer(settings.nudge_rate),
        )
        scheduler.add_job(
            guard("nudge_send", service.sweep, settings.nudge_sweep_seconds),
            "interval",
            seconds=settings.nudge_sweep_seconds,
            id="nudge_send",
            next_run_time=first,
            **{**common, "max_instances": 2},  # the sweep itself returns if one still runs
        )
    jobs = NudgeJobs(planner, service)
    if stop is not None:
        jobs.stop_on(stop)
    return jobs
