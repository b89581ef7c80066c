"""When a member may be nudged: chosen days and time, quiet hours, caps, back-off.

Pure functions over aware datetimes. Wall-clock times are the member's own
(``zoneinfo``), so 11:00 stays 11:00 on the days the clocks change and quiet
hours follow the local clock, not UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 24 * 60
ALL_DAYS = 0b1111111
WEEKDAYS = 0b0011111
#: "Not now" waits this long, doubling each time in a row, up to ``MAX_BACKOFF``.
FIRST_BACKOFF = timedelta(days=7)
MAX_BACKOFF = timedelta(days=28)


@dataclass(frozen=True)
class Timing:
    """A member's timing choices (as stored in ``nudge_prefs``)."""

    timezone: str = "Europe/London"
    days_mask: int = 1
    time_minutes: int = 660
    quiet_start: int = 1200
    quiet_end: int = 540


def zone(name: str) -> ZoneInfo:
    """The time zone called ``name``; Europe/London when it is unknown."""
    try:
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return _zone("Europe/London")


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    """Cached ``ZoneInfo`` lookup."""
    return ZoneInfo(name)


def valid_timezone(name: str) -> bool:
    """True when ``name`` is a time zone this machine knows."""
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def minutes_of(at: datetime, tz: ZoneInfo) -> int:
    """Minutes after local midnight at the instant ``at``."""
    local = at.astimezone(tz)
    return local.hour * 60 + local.minute


def in_quiet(minutes: int, quiet_start: int, quiet_end: int) -> bool:
    """True when a local time (minutes after midnight) falls in quiet hours.

    Quiet hours may wrap midnight (20:00-09:00). Equal start and end: none.
    """
    if quiet_start == quiet_end:
        return False
    if quiet_start < quiet_end:
        return quiet_start <= minutes < quiet_end
    return minutes >= quiet_start or minutes < quiet_end


def is_quiet(at: datetime, timing: Timing) -> bool:
    """True when the instant ``at`` is in the member's quiet hours, by their own clock."""
    return in_quiet(minutes_of(at, zone(timing.timezone)), timing.quiet_start, timing.quiet_end)


def local_instant(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time on a day.

    A time the clocks skip (spring forward) comes out one hour later by the
    wall clock; a time that happens twice (autumn) is the first of the two.
    """
    wall = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz)
    return wall.astimezone(UTC)


def allowed_minutes(timing: Timing) -> int:
    """The member's time, moved to the end of quiet hours if it falls inside them."""
    if in_quiet(timing.time_minutes, timing.quiet_start, timing.quiet_end):
        return timing.quiet_end
    return timing.time_minutes


def next_slot(after: datetime, timing: Timing, *, any_day: bool = False) -> datetime:
    """The first slot strictly after ``after``: a chosen day (or any day) at the chosen time."""
    return _next_slot(_minute(after), timing, any_day)


@lru_cache(maxsize=8192)
def _next_slot(after: datetime, timing: Timing, any_day: bool) -> datetime:
    """Cached body of :func:`next_slot` (one sweep asks the same question many times)."""
    tz = zone(timing.timezone)
    mask = ALL_DAYS if any_day or not timing.days_mask & ALL_DAYS else timing.days_mask
    minutes = allowed_minutes(timing)
    day = after.astimezone(tz).date()
    for offset in range(0, 9):
        candidate = day + timedelta(days=offset)
        if not mask & (1 << candidate.weekday()):
            continue
        slot = local_instant(candidate, minutes, tz)
        if slot > after:
            return slot
    raise AssertionError("a weekly pattern always has a slot within 8 days")


def quiet_begins(after: datetime, timing: Timing) -> datetime:
    """The next instant after ``after`` at which the member's quiet hours begin."""
    if after.second or after.microsecond:
        return _quiet_begins(after, timing)
    return _cached_quiet_begins(_minute(after), timing)


@lru_cache(maxsize=8192)
def _cached_quiet_begins(after: datetime, timing: Timing) -> datetime:
    """Cached :func:`quiet_begins` for whole minutes (slots always are)."""
    return _quiet_begins(after, timing)


def _quiet_begins(after: datetime, timing: Timing) -> datetime:
    """Body of :func:`quiet_begins`."""
    if timing.quiet_start == timing.quiet_end:
        return after + timedelta(days=1)
    tz = zone(timing.timezone)
    day = after.astimezone(tz).date()
    for offset in range(0, 3):
        start = local_instant(day + timedelta(days=offset), timing.quiet_start, tz)
        if start > after:
            return start
    raise AssertionError("quiet hours begin every day")


def window(slot: datetime, timing: Timing) -> tuple[datetime, datetime]:
    """``(due_at, send_before)`` for a nudge planned at ``slot``."""
    return slot, quiet_begins(slot, timing)


def backoff(streak: int) -> timedelta:
    """How long "Not now" waits: 7 days, then 14, then 28 (the most)."""
    if streak <= 0:
        return timedelta(0)
    wait: timedelta = FIRST_BACKOFF * (2 ** (streak - 1))
    return min(wait, MAX_BACKOFF)


def default_days_mask(member_id: int) -> int:
    """The default day: one weekday, spread over the week by member."""
    return 1 << (member_id % 5)


def day_list(mask: int) -> list[int]:
    """Weekday numbers (0 Monday .. 6 Sunday) in a days mask."""
    return [d for d in range(7) if mask & (1 << d)]


def _minute(at: datetime) -> datetime:
    """``at`` in UTC, cut to the whole minute (so cached answers are shared)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).replace(second=0, microsecond=0)
