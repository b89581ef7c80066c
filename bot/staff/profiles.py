"""One summary row per member: the columns shared by the CSV file and the XLSX Members sheet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.staff.cells import local_time, safe_cell
from bot.staff.data import Batch, MemberRow, RatingRow
from bot.staff.labels import Labels

#: A cell value: text, a whole number, a time (shown as a date) or empty.
Cell = str | int | datetime | None

#: Skill statuses shown as the member's skills (the member said "Yes, that is me").
CONFIRMED = "confirmed"


@dataclass(frozen=True)
class Summary:
    """What one member has found, ready to show in a row."""

    member: MemberRow
    skills: dict[str, list[str]]  # category id -> skill labels, oldest first
    wishes: list[str]
    first_rating: RatingRow | None
    latest_rating: RatingRow | None
    opportunities: list[str]


def summarise(member: MemberRow, batch: Batch) -> Summary:
    """The member's confirmed skills by category, wishes, first and latest rating."""
    skills: dict[str, list[str]] = {}
    for skill in batch.skills.get(member.id, []):
        if skill.status == CONFIRMED:
            skills.setdefault(skill.category, []).append(skill.label)
    ratings = batch.ratings.get(member.id, [])
    return Summary(
        member=member,
        skills=skills,
        wishes=[w.label for w in batch.wishes.get(member.id, [])],
        first_rating=ratings[0] if ratings else None,
        latest_rating=ratings[-1] if ratings else None,
        opportunities=list(batch.opportunities.get(member.id, [])),
    )


def headers(labels: Labels) -> list[str]:
    """Column names, one skills column per category."""
    return [
        "Member id",
        "First name",
        "Network",
        "Said yes to sharing on",
        *(f"Skills: {labels.category(c)}" for c in labels.category_order),
        "Wants to learn",
        "First confidence (1 low to 3 good)",
        "First confidence on",
        "Latest confidence (1 low to 3 good)",
        "Latest confidence on",
        "Last active",
        "Opportunities said yes to",
    ]


def time_columns(labels: Labels) -> list[int]:
    """Which columns of :func:`headers` are times."""
    names = headers(labels)
    wanted = {"Said yes to sharing on", "First confidence on", "Latest confidence on"}
    return [i for i, n in enumerate(names) if n in wanted or n == "Last active"]


def cells(summary: Summary, labels: Labels, zone: tzinfo) -> list[Cell]:
    """The row for one member; text is made safe, times are in ``zone``."""
    member = summary.member
    first, latest = summary.first_rating, summary.latest_rating
    return [
        member.id,
        safe_cell(member.first_name),
        safe_cell(member.network),
        local_time(member.consent_at, zone),
        *_skill_columns(summary, labels),
        safe_cell("; ".join(summary.wishes)),
        first.value if first else None,
        local_time(first.created_at, zone) if first else None,
        latest.value if latest else None,
        local_time(latest.created_at, zone) if latest else None,
        local_time(member.last_active_at, zone),
        safe_cell("; ".join(summary.opportunities)),
    ]


def _skill_columns(summary: Summary, labels: Labels) -> list[str]:
    """One cell per category, in the fixed order: the member's confirmed skills in it."""
    order = labels.category_order
    columns = [""] * len(order)
    for category, found in summary.skills.items():
        if category in order:
            columns[order.index(category)] = safe_cell("; ".join(found))
    return columns
