"""Making member text safe for spreadsheets, and times readable for staff.

Formula injection: a spreadsheet treats a cell starting with ``=``, ``+``,
``-`` or ``@`` as a formula (tab and carriage return can hide one). Such text
gets a leading apostrophe, so it shows as the words the member typed and never
runs. Numbers and dates are written as numbers and dates, never as text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

#: Characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def neutralise(text: str) -> str:
    """Text that a spreadsheet shows as words, never as a formula."""
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def printable(text: str) -> str:
    """Text without control characters (kept: tab, line feed, carriage return)."""
    return _CONTROL.sub("", text)


def safe_cell(text: str | None) -> str:
    """Member or staff text for one spreadsheet cell: printable and neutralised."""
    if not text:
        return ""
    return neutralise(printable(text))


def local_time(moment: datetime | None, zone: tzinfo = UTC) -> datetime | None:
    """A stored time (UTC; SQLite gives it back without a zone) in ``zone``, zone dropped."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        if zone is UTC:
            return moment  # stored as UTC already (SQLite)
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).replace(tzinfo=None)


#: Day 0 of spreadsheet dates (with Excel's 1900 leap-year quirk folded in).
SHEET_EPOCH = datetime(1899, 12, 30)


def sheet_date(moment: datetime) -> float:
    """A zone-free time as a spreadsheet date number (days since 1899-12-30)."""
    return (moment - SHEET_EPOCH).total_seconds() / 86400


def time_text(moment: datetime | None, zone: tzinfo = UTC) -> str:
    """A stored time as ``2026-11-25 14:03`` in ``zone`` (empty when unknown)."""
    local = local_time(moment, zone)
    return local.strftime("%Y-%m-%d %H:%M") if local else ""


class SheetClock:
    """Stored times as spreadsheet date numbers in one time zone, fast for long columns.

    Takes a date number already worked out in UTC (SQLite does that, see
    :func:`bot.staff.data.sheet_time`) or a stored time. A zone's offset from
    UTC changes only a few times a year, so the offset is remembered for each
    quarter of an hour; in a quarter hour holding a change, each time is worked
    out on its own.
    """

    #: Quarter hours a day.
    SLOTS = 96

    def __init__(self, zone: tzinfo) -> None:
        """A clock for ``zone``."""
        self.zone = zone
        #: True when the zone is UTC: UTC date numbers are already right.
        self.is_utc = zone is UTC or getattr(zone, "key", None) in ("UTC", "Etc/UTC")
        self._offsets: dict[int, float | None] = {}

    def __call__(self, value: float | datetime | None) -> float | None:
        """The spreadsheet date number of a stored time (a UTC number or a ``datetime``)."""
        if value is None:
            return None
        if isinstance(value, datetime):
            local = local_time(value, self.zone)
            return None if local is None else sheet_date(local)
        if self.is_utc:
            return value
        slot = int(value * self.SLOTS // 1)
        try:
            offset = self._offsets[slot]
        except KeyError:
            offset = self._offsets[slot] = self._slot_offset(slot)
        if offset is None:
            offset = self._offset(value)
        return value + offset

    def _offset(self, value: float) -> float:
        """The zone's offset (in days) at one UTC date number."""
        moment = (SHEET_EPOCH + timedelta(days=value)).replace(tzinfo=UTC)
        shift = moment.astimezone(self.zone).utcoffset()
        return (shift or timedelta()).total_seconds() / 86400

    def _slot_offset(self, slot: int) -> float | None:
        """The offset all through one quarter hour, or None when it changes inside it."""
        start = slot / self.SLOTS
        first = self._offset(start)
        last = self._offset(start + (1 - 1e-9) / self.SLOTS)
        return first if first == last else None
