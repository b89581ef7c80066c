"""Repository functions: every query the application makes, in one place.

Each function takes an open ``AsyncSession`` inside the caller's transaction
(one transaction per unit of work; the caller commits).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Answer,
    AuditEvent,
    Base,
    ConfidenceRating,
    ConversationState,
    LearningWish,
    Member,
    MemberSkill,
    ProcessedInput,
    StaffAlert,
    utcnow,
)


async def find_member(session: AsyncSession, channel: str, external_id: str) -> Member | None:
    """The member known by this channel id, if any."""
    if channel == "telegram":
        try:
            tg = int(external_id)
        except ValueError:
            return None
        stmt = select(Member).where(Member.telegram_id == tg)
    else:
        stmt = select(Member).where(Member.local_id == external_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_or_create_member(
    session: AsyncSession, channel: str, external_id: str, *, network: str, language: str
) -> tuple[Member, bool]:
    """Find the member or create them (with a fresh conversation state)."""
    member = await find_member(session, channel, external_id)
    if member is not None:
        return member, False
    member = Member(network=network, language=language)
    if channel == "telegram":
        member.telegram_id = int(external_id)
    else:
        member.local_id = external_id[:64]
    session.add(member)
    await session.flush()
    session.add(ConversationState(member_id=member.id, status="new", data={}))
    await session.flush()
    return member, True


async def member_and_state(
    session: AsyncSession, channel: str, external_id: str, *, network: str, language: str
) -> tuple[Member, ConversationState]:
    """The member and their conversation state in one query (created when new).

    On PostgreSQL the state row is locked for the rest of the transaction.
    """
    if channel == "telegram":
        try:
            where = Member.telegram_id == int(external_id)
        except ValueError:
            where = Member.local_id == f"tg:{external_id}"[:64]
    else:
        where = Member.local_id == external_id[:64]
    stmt = (
        select(Member, ConversationState)
        .join(ConversationState, ConversationState.member_id == Member.id)
        .where(where)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=ConversationState)
    row = (await session.execute(stmt)).first()
    if row is None:
        member, _ = await get_or_create_member(
            session, channel, external_id, network=network, language=language
        )
        return member, await load_state(session, member.id)
    member, state = row
    if state is None:
        state = await load_state(session, member.id)
    return member, state


async def input_seen(session: AsyncSession, key: str) -> bool:
    """True when a channel update key was already handled."""
    return await session.get(ProcessedInput, key[:64]) is not None


async def load_state(session: AsyncSession, member_id: int) -> ConversationState:
    """The member's conversation state, locked for update where the database can."""
    stmt = select(ConversationState).where(ConversationState.member_id == member_id)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    state = (await session.execute(stmt)).scalar_one_or_none()
    if state is None:
        state = ConversationState(member_id=member_id, status="new", data={})
        session.add(state)
        await session.flush()
    return state


async def claim_input(session: AsyncSession, key: str, member_id: int | None) -> bool:
    """Record a channel update key; False when it was handled before."""
    if await session.get(ProcessedInput, key) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(ProcessedInput(key=key[:64], member_id=member_id))
            await session.flush()
    except IntegrityError:
        return False
    return True


async def add_answer(
    session: AsyncSession,
    member_id: int,
    question_id: str,
    kind: str,
    text: str,
    *,
    choice: str | None = None,
    intent: str | None = None,
    max_chars: int = 2000,
) -> Answer:
    """Store what the member said, verbatim; long text is cut and the cut recorded."""
    truncated = len(text) > max_chars
    answer = Answer(
        member_id=member_id,
        question_id=question_id[:96],
        kind=kind,
        choice=choice,
        text=text[:max_chars],
        truncated=truncated,
        original_length=len(text),
        intent=intent,
        created_at=utcnow(),
    )
    session.add(answer)
    await session.flush()
    return answer


async def skill_statuses(session: AsyncSession, member_id: int) -> dict[str, str]:
    """Each skill id proposed to the member and its status."""
    rows = await session.execute(
        select(MemberSkill.skill_id, MemberSkill.status).where(MemberSkill.member_id == member_id)
    )
    return {skill_id: status for skill_id, status in rows.all()}


async def set_skill(
    session: AsyncSession,
    member_id: int,
    *,
    skill_id: str,
    category: str,
    label: str,
    status: str,
    source: str,
    evidence_answer_id: int | None,
) -> MemberSkill:
    """Create or update the member's record for one skill."""
    row = (
        await session.execute(
            select(MemberSkill).where(
                MemberSkill.member_id == member_id, MemberSkill.skill_id == skill_id
            )
        )
    ).scalar_one_or_none()
    now = utcnow()
    if row is None:
        row = MemberSkill(
            member_id=member_id,
            skill_id=skill_id,
            category=category,
            label=label,
            status=status,
            source=source,
            evidence_answer_id=evidence_answer_id,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
    else:
        row.status = status
        row.updated_at = now
        if evidence_answer_id is not None:
            row.evidence_answer_id = evidence_answer_id
    await session.flush()
    return row


async def add_wish(
    session: AsyncSession,
    member_id: int,
    *,
    label: str,
    skill_id: str | None,
    answer_id: int | None,
) -> LearningWish:
    """Keep something the member would like to learn (once per skill or label)."""
    stmt = select(LearningWish).where(LearningWish.member_id == member_id)
    stmt = (
        stmt.where(LearningWish.skill_id == skill_id)
        if skill_id
        else stmt.where(LearningWish.label == label[:200])
    )
    existing = (await session.execute(stmt)).scalars().first()
    if existing is not None:
        return existing
    wish = LearningWish(
        member_id=member_id, label=label[:200], skill_id=skill_id, answer_id=answer_id
    )
    session.add(wish)
    await session.flush()
    return wish


async def add_rating(
    session: AsyncSession, member_id: int, moment: str, value: int, session_no: int
) -> ConfidenceRating:
    """Store a confidence rating with the time."""
    rating = ConfidenceRating(
        member_id=member_id, moment=moment, value=value, session_no=session_no, created_at=utcnow()
    )
    session.add(rating)
    await session.flush()
    return rating


async def audit(
    session: AsyncSession,
    actor: str,
    action: str,
    member_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one audit event."""
    session.add(AuditEvent(actor=actor, action=action, member_id=member_id, detail=detail or {}))
    await session.flush()


async def add_staff_alert(
    session: AsyncSession, kind: str, member: Member, text: str
) -> StaffAlert:
    """Queue something staff must hear about (an outbox row) and audit it."""
    alert = StaffAlert(kind=kind, member_id=member.id, network=member.network, text=text[:4000])
    session.add(alert)
    await session.flush()
    await audit(session, "bot", f"{kind}_alert", member.id, {"alert_id": alert.id})
    return alert


async def forget_pre_consent(session: AsyncSession, member_id: int) -> None:
    """Remove everything but the consent answer for a member who said no."""
    await session.execute(
        delete(Answer).where(
            Answer.member_id == member_id, Answer.question_id != "onboarding.consent"
        )
    )


async def erase_member(session: AsyncSession, member: Member, asked_by: str) -> int:
    """Erase everything kept about a member; leave only a tombstone in the audit log.

    Distress alerts not yet delivered to staff are kept until they are delivered
    (safeguarding comes first); delivered ones go too.
    """
    from storage.db import load_all_models

    load_all_models()
    member_id = member.id
    special = {"members", "staff_alerts", "audit_events"}
    # Every table that points at a member (features added later included), children first.
    for table in reversed(Base.metadata.sorted_tables):
        if table.name in special:
            continue
        for column in table.c:
            if column.name == "member_id" or column.name.endswith("_member_id"):
                await session.execute(delete(table).where(column == member_id))
    await session.execute(
        delete(StaffAlert).where(
            StaffAlert.member_id == member_id, StaffAlert.delivered_at.is_not(None)
        )
    )
    await session.execute(delete(AuditEvent).where(AuditEvent.member_id == member_id))
    network = member.network
    await session.delete(member)
    await session.flush()
    session.add(
        AuditEvent(
            actor=asked_by,
            action="member_erased",
            member_id=member_id,
            detail={"network": network},
        )
    )
    session.add(
        StaffAlert(
            kind="erasure",
            member_id=None,
            network=network,
            text=f"Member {member_id} asked to delete their data. It is done.",
        )
    )
    await session.flush()
    return member_id


async def purge_old_text(session: AsyncSession, older_than: datetime) -> int:
    """Delete free-text answers older than ``older_than`` (data minimisation)."""
    result = await session.execute(
        delete(Answer).where(Answer.kind == "text", Answer.created_at < older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def member_data(session: AsyncSession, member: Member) -> dict[str, Any]:
    """Everything kept about one member, for the member to see (``/mydata``)."""
    answers = await session.execute(
        select(Answer).where(Answer.member_id == member.id).order_by(Answer.id)
    )
    skills = await session.execute(
        select(MemberSkill).where(MemberSkill.member_id == member.id).order_by(MemberSkill.id)
    )
    wishes = await session.execute(
        select(LearningWish).where(LearningWish.member_id == member.id).order_by(LearningWish.id)
    )
    ratings = await session.execute(
        select(ConfidenceRating)
        .where(ConfidenceRating.member_id == member.id)
        .order_by(ConfidenceRating.id)
    )
    return {
        "member": {
            "id": member.id,
            "first_name": member.first_name,
            "network": member.network,
            "language": member.language,
            "consent": member.consent,
            "consent_at": member.consent_at.isoformat() if member.consent_at else None,
            "created_at": member.created_at.isoformat() if member.created_at else None,
        },
        "answers": [
            {
                "question": a.question_id,
                "kind": a.kind,
                "choice": a.choice,
                "text": a.text,
                "at": a.created_at.isoformat(),
            }
            for a in answers.scalars()
        ],
        "skills": [
            {"skill": s.skill_id, "label": s.label, "category": s.category, "status": s.status}
            for s in skills.scalars()
        ],
        "learning_wishes": [w.label for w in wishes.scalars()],
        "confidence_ratings": [
            {"moment": r.moment, "value": r.value, "at": r.created_at.isoformat()}
            for r in ratings.scalars()
        ],
    }


@dataclass(frozen=True)
class Profile:
    """What a member has found: confirmed skills and learning wishes."""

    first_name: str
    skills: list[tuple[str, str, str]]  # (skill_id, category, label)
    wishes: list[tuple[str | None, str]]  # (skill_id, label)
    latest_rating: int | None
    last_active: datetime | None


async def load_profile(session: AsyncSession, member: Member) -> Profile:
    """The member's confirmed skills and learning wishes, oldest first."""
    skills = await session.execute(
        select(MemberSkill.skill_id, MemberSkill.category, MemberSkill.label)
        .where(MemberSkill.member_id == member.id, MemberSkill.status == "confirmed")
        .order_by(MemberSkill.created_at, MemberSkill.id)
    )
    wishes = await session.execute(
        select(LearningWish.skill_id, LearningWish.label)
        .where(LearningWish.member_id == member.id)
        .order_by(LearningWish.created_at, LearningWish.id)
    )
    rating = await session.execute(
        select(ConfidenceRating.value)
        .where(ConfidenceRating.member_id == member.id)
        .order_by(ConfidenceRating.created_at.desc(), ConfidenceRating.id.desc())
        .limit(1)
    )
    return Profile(
        first_name=member.first_name or "",
        skills=[(s, c, label) for s, c, label in skills.all()],
        wishes=[(s, label) for s, label in wishes.all()],
        latest_rating=rating.scalar_one_or_none(),
        last_active=member.last_active_at,
    )
