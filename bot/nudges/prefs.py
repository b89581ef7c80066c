"""Member nudge preferences: defaults, creating the row, turning nudges on and off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.nudges.schedule import Timing, default_days_mask, next_slot
from bot.settings import Settings
from storage.models import utcnow
from storage.models_nudges import NudgeOutbox, NudgePrefs

#: Outbox states a nudge is in before a sender has finished with it.
WAITING = ("pending", "claimed")
#: A new member hears nothing for this long (they have just met the bot).
FIRST_NUDGE_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class NudgeDefaults:
    """Defaults for members who have not chosen (settings may change them)."""

    timezone: str = "Europe/London"
    time_minutes: int = 660
    weekly_cap: int = 2
    quiet_start: int = 1200
    quiet_end: int = 540

    @classmethod
    def from_settings(cls, settings: Settings) -> NudgeDefaults:
        """The ``SKILLSPARK_NUDGE_*`` defaults (checked by :class:`~bot.settings.Settings`)."""
        return cls(
            timezone=settings.nudge_timezone,
            time_minutes=clock_minutes(settings.nudge_time),
            weekly_cap=settings.nudge_weekly_cap,
            quiet_start=clock_minutes(settings.nudge_quiet_start),
            quiet_end=clock_minutes(settings.nudge_quiet_end),
        )


def clock_minutes(value: str) -> int:
    """``"11:00"`` -> 660 (minutes after midnight; settings have checked the format)."""
    hours, _, minutes = value.partition(":")
    return int(hours) * 60 + int(minutes or 0)


def aware(at: datetime | None) -> datetime | None:
    """A stored time as aware UTC (SQLite gives naive UTC back)."""
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def timing_of(prefs: NudgePrefs) -> Timing:
    """The timing part of a preferences row."""
    return Timing(
        timezone=prefs.timezone,
        days_mask=prefs.days_mask,
        time_minutes=prefs.time_minutes,
        quiet_start=prefs.quiet_start,
        quiet_end=prefs.quiet_end,
    )


def new_prefs(member_id: int, defaults: NudgeDefaults, now: datetime) -> dict[str, Any]:
    """Column values for a member's first preferences row (first nudge a day or more away)."""
    timing = Timing(
        timezone=defaults.timezone,
        days_mask=default_days_mask(member_id),
        time_minutes=defaults.time_minutes,
        quiet_start=defaults.quiet_start,
        quiet_end=defaults.quiet_end,
    )
    return {
        "member_id": member_id,
        "enabled": True,
        "days_mask": timing.days_mask,
        "time_minutes": timing.time_minutes,
        "timezone": timing.timezone,
        "quiet_start": timing.quiet_start,
        "quiet_end": timing.quiet_end,
        "weekly_cap": defaults.weekly_cap,
        "next_due_at": next_slot(now + FIRST_NUDGE_AFTER, timing),
        "not_now_streak": 0,
        "kind_declines": {},
        "gave": 0,
        "received": 0,
        "asked_count": 0,
        "updated_at": now,
    }


async def ensure_prefs(
    session: AsyncSession, member_id: int, defaults: NudgeDefaults, now: datetime | None = None
) -> NudgePrefs:
    """The member's preferences row, created with the defaults when missing.

    The planning sweep may create the same row at the same moment; then its row is used.
    """
    prefs = await session.get(NudgePrefs, member_id)
    if prefs is not None:
        return prefs
    try:
        async with session.begin_nested():
            prefs = NudgePrefs(**new_prefs(member_id, defaults, now or utcnow()))
            session.add(prefs)
            await session.flush()
    except IntegrityError:
        prefs = await session.get(NudgePrefs, member_id, populate_existing=True)
        if prefs is None:
            raise
    return prefs


async def cancel_waiting(
    session: AsyncSession, member_id: int, *, reason: str, only_opportunities: bool = False
) -> int:
    """Cancel the member's nudges that no sender has started; returns how many."""
    stmt = update(NudgeOutbox).where(
        NudgeOutbox.member_id == member_id, NudgeOutbox.status.in_(WAITING)
    )
    if only_opportunities:
        stmt = stmt.where(NudgeOutbox.kind == "opportunity")
    result = await session.execute(
        stmt.values(status="cancelled", last_error=reason[:200], claimed_by=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def replan(prefs: NudgePrefs, now: datetime) -> None:
    """Set the next slot from now (or from the end of a "Not now" wait)."""
    after = max(now, aware(prefs.backoff_until) or now)
    prefs.next_due_at = next_slot(after, timing_of(prefs))
    prefs.updated_at = now
