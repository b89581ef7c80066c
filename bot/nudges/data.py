"""What the nudge tables keep about one member, for ``/mydata`` (the lead merges it in)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models_nudges import NudgeOutbox, NudgePrefs, NudgeResponse, Opportunity, PeerMatch


async def member_nudge_data(session: AsyncSession, member_id: int) -> dict[str, Any]:
    """The member's nudge settings, the nudges they got and what they answered.

    Other members are never named: a skill swap shows only the skill and its state.
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
    return {
        "nudge_settings": None
        if prefs is None
        else {
            "on": prefs.enabled,
            "days": [d for d in range(7) if prefs.days_mask & (1 << d)],
            "time": f"{prefs.time_minutes // 60:02d}:{prefs.time_minutes % 60:02d}",
            "time_zone": prefs.timezone,
            "most_a_week": prefs.weekly_cap,
        },
        "nudges": [
            {
                "about": title or (f"skill swap: {label}" if label else ""),
                "planned_for": row.due_at.isoformat(),
                "status": row.status,
                "answer": answer,
            }
            for row, title, label, answer in nudges.all()
        ],
    }
