"""What the nudge tables keep: about one member (``/mydata``), and for staff (``nudges status``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.nudges.prefs import aware
from storage.models import Member
from storage.models_nudges import (
    OUTBOX_STATES,
    NudgeOutbox,
    NudgePrefs,
    NudgeResponse,
    Opportunity,
    PeerMatch,
)


async def member_nudge_data(session: AsyncSession, member_id: int) -> dict[str, Any]:
    """For ``/mydata``: the member's nudge settings, the nudges they got and what they
    answered, and the skill swaps staff were shown about them.

    Merge it into the member's data file (``data.update(...)``). Other members are
    never named: a skill swap shows only the skill, the member's side and its state.
    """
    prefs = await session.get(NudgePrefs, member_id)
    nudges = await session.execute(
        select(NudgeOutbox, Opportunity.title, PeerMatch.label, NudgeResponse.answer)
        .outerjoin(Opportunity, Opportunity.id == NudgeOutbox.opportunity_id)
        .outerjoin(PeerMatch, PeerMatch.id == NudgeOutbox.match_id)
        .outerjoin(NudgeResponse, NudgeResponse.nudge_id == NudgeOutbox.id)
        .where(NudgeOutbox.member_id == member_id)
        .order_by(NudgeOutbox.id)
    )
    swaps = await session.execute(
        select(PeerMatch)
        .where(or_(PeerMatch.teacher_id == member_id, PeerMatch.learner_id == member_id))
        .order_by(PeerMatch.id)
    )
    return {
        "nudge_settings": None
        if prefs is None
        else {
            "on": prefs.enabled,
            "days": [d for d in range(7) if prefs.days_mask & (1 << d)],
            "time": _clock(prefs.time_minutes),
            "time_zone": prefs.timezone,
            "quiet_hours": f"{_clock(prefs.quiet_start)}-{_clock(prefs.quiet_end)}",
            "most_a_week": prefs.weekly_cap,
            "next_after": _iso(prefs.next_due_at),
            "waiting_after_not_now_until": _iso(prefs.backoff_until),
            "no_thank_you_by_kind": dict(prefs.kind_declines or {}),
        },
        "nudges": [
            {
                "about": title or (f"skill swap: {label}" if label else ""),
                "planned_for": row.due_at.isoformat(),
                "status": row.status,
                "sent_at": _iso(row.sent_at),
                "answer": answer,
            }
            for row, title, label, answer in nudges.all()
        ],
        "skill_swaps": [
            {
                "skill": match.label,
                "you_would": "share it" if match.teacher_id == member_id else "learn it",
                "status": match.status,
                "your_answer": match.teacher_answer
                if match.teacher_id == member_id
                else match.learner_answer,
            }
            for match in swaps.scalars()
        ],
    }


def _clock(minutes: int) -> str:
    """660 -> ``"11:00"``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _iso(at: datetime | None) -> str | None:
    """A stored time as ISO 8601 UTC (or None)."""
    aware_at = aware(at)
    return aware_at.isoformat() if aware_at is not None else None


@dataclass(frozen=True)
class UnknownNudge:
    """A nudge that may or may not have reached the member (never sent again)."""

    nudge_id: int
    member_id: int
    first_name: str | None
    about: str
    planned_for: datetime
    reason: str


@dataclass
class OutboxStatus:
    """Nudges per state since a moment, and the ones whose outcome is unknown."""

    counts: dict[str, int] = field(default_factory=dict)
    unknown: list[UnknownNudge] = field(default_factory=list)
    unknown_total: int = 0


async def outbox_status(
    session: AsyncSession, *, since: datetime, most: int = 50, network: str | None = None
) -> OutboxStatus:
    """How many nudges planned since ``since`` are in each state; the ``unknown`` ones listed.

    ``network``: only nudges to members of that network (every network when ``None``).
    """
    status = OutboxStatus()
    counting = (
        select(NudgeOutbox.status, func.count())
        .where(NudgeOutbox.due_at >= since)
        .group_by(NudgeOutbox.status)
    )
    if network is not None:
        counting = counting.join(Member, Member.id == NudgeOutbox.member_id).where(
            Member.network == network
        )
    counted = await session.execute(counting)
    found = {str(state): int(n) for state, n in counted.all()}
    status.counts = {s: found[s] for s in OUTBOX_STATES if found.get(s)}
    status.counts.update({s: n for s, n in found.items() if s not in status.counts})
    status.unknown_total = status.counts.get("unknown", 0)
    if not status.unknown_total:
        return status
    rows = await session.execute(
        select(
            NudgeOutbox.id,
            NudgeOutbox.member_id,
            Member.first_name,
            Opportunity.title,
            PeerMatch.label,
            NudgeOutbox.due_at,
            NudgeOutbox.last_error,
        )
        .join(Member, Member.id == NudgeOutbox.member_id)
        .outerjoin(Opportunity, Opportunity.id == NudgeOutbox.opportunity_id)
        .outerjoin(PeerMatch, PeerMatch.id == NudgeOutbox.match_id)
        .where(
            NudgeOutbox.status == "unknown",
            NudgeOutbox.due_at >= since,
            *([Member.network == network] if network is not None else []),
        )
        .order_by(NudgeOutbox.due_at, NudgeOutbox.id)
        .limit(most)
    )
    for nudge_id, member_id, first_name, title, label, due_at, error in rows.all():
        status.unknown.append(
            UnknownNudge(
                nudge_id=nudge_id,
                member_id=member_id,
                first_name=first_name,
                about=f'"{title}"' if title else f"skill swap: {label or '?'}",
                planned_for=aware(due_at) or since,
                reason=error or "",
            )
        )
    return status
