"""What the desk pages show, read from the database within a staff member's scope.

Members are those who said yes to sharing (the same rule as every export).
A member outside the staff member's network is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.staff.data import Batch, ExportFilter, MemberRow, Needs, load_batch
from bot.staff.labels import Labels
from bot.staff.pdf_export import Page, build_page
from bot.staff.roles import Scope
from storage import repo
from storage.models import Member, StaffAlert
from storage.models_desk import AlertSeen
from storage.models_nudges import NudgeOutbox, NudgeResponse


def aware(moment: datetime) -> datetime:
    """A stored time as UTC-aware (SQLite gives naive times back)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class MemberLine:
    """One member on the first page."""

    id: int
    name: str
    skills: list[str]
    found: int
    wishes: list[str]
    ratings: list[tuple[int, datetime]]
    last_active: datetime
    inactive: bool


def _filter(scope: Scope, member_ids: tuple[int, ...] = ()) -> ExportFilter:
    """Consenting members of the staff member's network (every network for an admin)."""
    return ExportFilter(network=scope.networks, member_ids=member_ids)


async def _members(session: AsyncSession, filt: ExportFilter, most: int) -> list[MemberRow]:
    """Member rows the filter selects, least recently active first."""
    stmt = (
        select(
            Member.id,
            Member.first_name,
            Member.network,
            Member.consent_at,
            Member.created_at,
            Member.last_active_at,
        )
        .where(*filt.conditions())
        .order_by(Member.last_active_at, Member.id)
        .limit(most)
    )
    return [MemberRow(*row) for row in (await session.execute(stmt)).all()]


async def member_lines(
    session: AsyncSession, scope: Scope, *, inactive_weeks: int, now: datetime, most: int = 500
) -> list[MemberLine]:
    """The members of my network, least recently active first."""
    filt = _filter(scope)
    members = await _members(session, filt, most)
    if not members:
        return []
    batch = await load_batch(session, members, filt, Needs(skill_statuses=None, details=False))
    cutoff = now - timedelta(weeks=inactive_weeks)
    lines = []
    for m in members:
        skills = batch.skills.get(m.id, [])
        last = aware(m.last_active_at)
        lines.append(
            MemberLine(
                id=m.id,
                name=m.first_name or f"Member {m.id}",
                skills=[s.label for s in skills if s.status == "confirmed"],
                found=len(skills),
                wishes=[w.label for w in batch.wishes.get(m.id, [])],
                ratings=[(r.value, aware(r.created_at)) for r in batch.ratings.get(m.id, [])],
                last_active=last,
                inactive=last < cutoff,
            )
        )
    return lines


@dataclass(frozen=True)
class Profile:
    """One member's page: the same content as their PDF page."""

    member: MemberRow
    page: Page
    batch: Batch


async def load_profile(
    session: AsyncSession, scope: Scope, member_id: int, labels: Labels, *, actor: str
) -> Profile | None:
    """One member's profile, when in scope (``None`` otherwise); the read is audited."""
    filt = _filter(scope, (member_id,))
    members = await _members(session, filt, 1)
    if not members:
        await repo.audit(session, actor, "desk_profile_refused", member_id, {})
        return None
    batch = await load_batch(session, members, filt, Needs())
    await repo.audit(session, actor, "desk_profile_read", member_id, {})
    return Profile(members[0], build_page(members[0], batch, labels, UTC), batch)


async def member_in_scope(session: AsyncSession, scope: Scope, member_id: int) -> bool:
    """True when the member is one this staff member may see."""
    return bool(await _members(session, _filter(scope, (member_id,)), 1))


@dataclass(frozen=True)
class AlertLine:
    """One safety or help alert, with who said they have seen it."""

    alert: StaffAlert
    member_name: str
    seen_by: str | None
    seen_at: datetime | None


async def list_alerts(session: AsyncSession, scope: Scope, *, most: int = 200) -> list[AlertLine]:
    """Alerts for my network, newest first."""
    stmt = (
        select(StaffAlert, Member.first_name, AlertSeen.seen_by, AlertSeen.seen_at)
        .outerjoin(Member, Member.id == StaffAlert.member_id)
        .outerjoin(AlertSeen, AlertSeen.alert_id == StaffAlert.id)
        .order_by(StaffAlert.created_at.desc(), StaffAlert.id.desc())
        .limit(most)
    )
    if scope.networks is not None:
        stmt = stmt.where(StaffAlert.network == scope.networks)
    rows = await session.execute(stmt)
    return [
        AlertLine(alert, name or "", by, aware(at) if at else None)
        for alert, name, by, at in rows.all()
    ]


async def mark_seen(
    session: AsyncSession, scope: Scope, alert_id: int, *, actor: str, name: str
) -> AlertSeen | None:
    """Mark an alert of my network seen by ``name`` (``None`` if not found); audit ``actor``."""
    alert = await session.get(StaffAlert, alert_id)
    if alert is None or (scope.networks is not None and alert.network != scope.networks):
        await repo.audit(session, actor[:64], "alert_seen_refused", None, {"alert_id": alert_id})
        return None
    seen = await session.get(AlertSeen, alert_id)
    if seen is None:
        seen = AlertSeen(alert_id=alert_id, seen_by=name[:64], seen_at=datetime.now(UTC))
        session.add(seen)
        await session.flush()
        await repo.audit(session, actor[:64], "alert_seen", alert.member_id, {"alert_id": alert_id})
    return seen


async def answered_nudges(session: AsyncSession, *, since: datetime, network: str | None) -> int:
    """How many nudges planned since ``since`` the member answered (of one network, if given)."""
    stmt = (
        select(func.count())
        .select_from(NudgeOutbox)
        .join(NudgeResponse, NudgeResponse.nudge_id == NudgeOutbox.id)
        .where(NudgeOutbox.due_at >= since)
    )
    if network is not None:
        stmt = stmt.join(Member, Member.id == NudgeOutbox.member_id).where(
            Member.network == network
        )
    return int((await session.execute(stmt)).scalar_one())
