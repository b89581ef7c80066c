"""Peer skill swaps: proposed to staff, asked of members only after staff approve.

When a member has confirmed a skill that another member of the same network
wants to learn, a ``proposed`` match is stored and staff are told. Nothing
reaches either member until staff approve; then both are asked, each in
easy-read, whether they would like to meet, and staff arrange the first
meeting. The bot never passes names, phone numbers, addresses or Telegram
handles between members.

Boundaries: a member is in at most ``max_open`` open swaps at once, two members
share at most one open swap, and members who have given a lot are preferred as
learners (and the other way round).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.nudges.prefs import NudgeDefaults, aware, ensure_prefs, timing_of
from bot.nudges.schedule import next_slot, quiet_begins
from storage import repo
from storage.models import LearningWish, Member, MemberSkill, StaffAlert, utcnow
from storage.models_nudges import NudgeOutbox, NudgePrefs, PeerMatch

#: Match states that still tie two members together.
OPEN_STATES = ("proposed", "approved", "agreed")


class MatchError(ValueError):
    """A staff decision that cannot be made; the message says why."""


@dataclass(frozen=True)
class MatchView:
    """One skill swap as staff see it."""

    id: int
    network: str
    status: str
    skill_id: str
    label: str
    score: float
    teacher_id: int
    teacher_name: str
    learner_id: int
    learner_name: str
    teacher_answer: str | None
    learner_answer: str | None
    proposed_at: datetime
    decided_by: str


async def propose_matches(
    session: AsyncSession, *, max_open: int = 2, limit: int = 500, now: datetime | None = None
) -> list[PeerMatch]:
    """Find new skill swaps in each network and store them for staff (members hear nothing)."""
    now = now or utcnow()
    candidates = await _candidates(session)
    if not candidates:
        return []
    people = {int(c[0]) for c in candidates} | {int(c[1]) for c in candidates}
    reachable = await _reachable(session, people)
    open_count, pairs = await _open_ties(session)
    taught, learned = await _history(session, people)

    def score(teacher_id: int, learner_id: int) -> float:
        """Prefer people asked least, and balance giving with receiving."""
        value = 1.0 + 0.5 / (1 + open_count[teacher_id]) + 0.5 / (1 + open_count[learner_id])
        if learned[teacher_id] > taught[teacher_id]:
            value += 0.25  # has received more than given: a chance to give
        if taught[learner_id] > learned[learner_id]:
            value += 0.25  # has given more than received: a chance to receive
        return round(value, 4)

    ranked = sorted(
        (
            (score(int(t), int(lr)), int(t), int(lr), skill, category, label, network)
            for t, lr, skill, category, label, network in candidates
            if int(t) in reachable and int(lr) in reachable
        ),
        key=lambda c: (-c[0], c[1], c[2], c[3]),
    )
    made: list[PeerMatch] = []
    for value, t, lr, skill, category, label, network in ranked:
        pair = (min(t, lr), max(t, lr))
        if pair in pairs or open_count[t] >= max_open or open_count[lr] >= max_open:
            continue
        match = PeerMatch(
            network=network,
            teacher_id=t,
            learner_id=lr,
            skill_id=skill,
            category=category,
            label=label,
            score=value,
            status="proposed",
            proposed_at=now,
        )
        session.add(match)
        made.append(match)
        pairs.add(pair)
        open_count[t] += 1
        open_count[lr] += 1
        if len(made) >= limit:
            break
    await session.flush()
    for network, count in sorted(Counter(m.network for m in made).items()):
        session.add(
            StaffAlert(
                kind="match",
                member_id=None,
                network=network,
                text=(
                    f"{count} new skill swap idea(s) in network {network}. Members have not "
                    f"been told. Please look: skillspark matches list --network {network}"
                ),
            )
        )
    for match in made:
        await repo.audit(session, "bot", "match_proposed", None, {"match_id": match.id})
    return made


async def _candidates(session: AsyncSession) -> list[tuple[int, int, str, str, str, str]]:
    """(teacher, learner, skill, category, label, network) pairs not proposed before.

    Paired in Python by (network, skill): a join of every confirmed skill with
    every wish is far too big for a database without the right indexes.
    """
    reachable = (Member.consent.is_(True), Member.telegram_id.is_not(None))
    wishes = await session.execute(
        select(LearningWish.member_id, LearningWish.skill_id, Member.network)
        .join(Member, Member.id == LearningWish.member_id)
        .where(LearningWish.skill_id.is_not(None), *reachable)
    )
    learners: dict[tuple[str, str], set[int]] = {}
    for member_id, skill_id, network in wishes.all():
        learners.setdefault((network, skill_id or ""), set()).add(int(member_id))
    if not learners:
        return []
    existing = {
        (int(t), int(lr), skill)
        for t, lr, skill in (
            await session.execute(
                select(PeerMatch.teacher_id, PeerMatch.learner_id, PeerMatch.skill_id)
            )
        ).all()
    }
    skills = await session.execute(
        select(
            MemberSkill.member_id,
            MemberSkill.skill_id,
            MemberSkill.category,
            MemberSkill.label,
            Member.network,
        )
        .join(Member, Member.id == MemberSkill.member_id)
        .where(MemberSkill.status == "confirmed", *reachable)
    )
    pairs = []
    for teacher_id, skill_id, category, label, network in skills.all():
        for learner_id in sorted(learners.get((network, skill_id), ())):
            if learner_id != teacher_id and (teacher_id, learner_id, skill_id) not in existing:
                pairs.append((int(teacher_id), learner_id, skill_id, category, label, network))
    return pairs


async def _reachable(session: AsyncSession, people: set[int]) -> set[int]:
    """Members who may be asked: nudges not turned off, and not blocking the bot."""
    rows = await session.execute(
        select(
            NudgePrefs.member_id, NudgePrefs.enabled, NudgePrefs.blocked_at, Member.last_active_at
        )
        .join(Member, Member.id == NudgePrefs.member_id)
        .where(NudgePrefs.member_id.in_(people))
    )
    out = set(people)
    for member_id, enabled, blocked_at, active in rows.all():
        since = aware(blocked_at)
        blocked = since is not None and (active is None or (aware(active) or since) <= since)
        if not enabled or blocked:
            out.discard(int(member_id))
    return out


async def _open_ties(session: AsyncSession) -> tuple[Counter[int], set[tuple[int, int]]]:
    """Open swaps per member, and the pairs of members already in one."""
    rows = await session.execute(
        select(PeerMatch.teacher_id, PeerMatch.learner_id).where(PeerMatch.status.in_(OPEN_STATES))
    )
    count: Counter[int] = Counter()
    pairs: set[tuple[int, int]] = set()
    for t, lr in rows.all():
        count[int(t)] += 1
        count[int(lr)] += 1
        pairs.add((min(t, lr), max(t, lr)))
    return count, pairs


async def _history(session: AsyncSession, people: set[int]) -> tuple[Counter[int], Counter[int]]:
    """How often each member has given and received (opportunities and agreed swaps)."""
    taught: Counter[int] = Counter()
    learned: Counter[int] = Counter()
    prefs = await session.execute(
        select(NudgePrefs.member_id, NudgePrefs.gave, NudgePrefs.received).where(
            NudgePrefs.member_id.in_(people)
        )
    )
    for member_id, gave, received in prefs.all():
        taught[int(member_id)] += int(gave)
        learned[int(member_id)] += int(received)
    agreed = await session.execute(
        select(PeerMatch.teacher_id, PeerMatch.learner_id).where(PeerMatch.status == "agreed")
    )
    for t, lr in agreed.all():
        taught[int(t)] += 1
        learned[int(lr)] += 1
    return taught, learned


async def list_matches(
    session: AsyncSession, *, status: str | None = None, network: str | None = None
) -> list[MatchView]:
    """Skill swaps for staff, newest first (optionally one status or one network)."""
    teacher, learner = aliased(Member), aliased(Member)
    stmt = (
        select(PeerMatch, teacher.first_name, learner.first_name)
        .join(teacher, teacher.id == PeerMatch.teacher_id)
        .join(learner, learner.id == PeerMatch.learner_id)
        .order_by(PeerMatch.id.desc())
    )
    if status:
        stmt = stmt.where(PeerMatch.status == status)
    if network:
        stmt = stmt.where(PeerMatch.network == network)
    rows = await session.execute(stmt)
    return [
        MatchView(
            id=m.id,
            network=m.network,
            status=m.status,
            skill_id=m.skill_id,
            label=m.label,
            score=m.score,
            teacher_id=m.teacher_id,
            teacher_name=t_name or "",
            learner_id=m.learner_id,
            learner_name=l_name or "",
            teacher_answer=m.teacher_answer,
            learner_answer=m.learner_answer,
            proposed_at=aware(m.proposed_at) or m.proposed_at,
            decided_by=m.decided_by,
        )
        for m, t_name, l_name in rows.all()
    ]


async def approve(
    session: AsyncSession,
    match_id: int,
    *,
    by: str,
    defaults: NudgeDefaults | None = None,
    now: datetime | None = None,
) -> PeerMatch:
    """Staff say yes: both members are asked (at their own good time) whether to meet."""
    now = now or utcnow()
    match = await _waiting_match(session, match_id)
    teacher = await session.get(Member, match.teacher_id)
    learner = await session.get(Member, match.learner_id)
    problem = await _still_valid(session, match, teacher, learner)
    if problem:
        raise MatchError(f"skill swap {match_id} cannot go ahead: {problem}")
    assert teacher is not None and learner is not None
    match.status = "approved"
    match.decided_at = now
    match.decided_by = by[:64]
    for member, kind, direction in (
        (teacher, "peer_teach", "give"),
        (learner, "peer_learn", "learn"),
    ):
        prefs = await ensure_prefs(session, member.id, defaults or NudgeDefaults(), now)
        timing = timing_of(prefs)
        due_at = next_slot(now, timing, any_day=True)
        session.add(
            NudgeOutbox(
                member_id=member.id,
                chat_id=int(member.telegram_id or 0),
                kind=kind,
                direction=direction,
                match_id=match.id,
                due_at=due_at,
                send_before=quiet_begins(due_at, timing),
                status="pending",
                created_at=now,
            )
        )
    await session.flush()
    await repo.audit(session, by[:64], "match_approved", None, {"match_id": match.id})
    return match


async def decline(
    session: AsyncSession, match_id: int, *, by: str, note: str = "", now: datetime | None = None
) -> PeerMatch:
    """Staff say no: the members are never asked."""
    match = await _waiting_match(session, match_id)
    match.status = "declined"
    match.decided_at = now or utcnow()
    match.decided_by = by[:64]
    match.note = note[:200]
    await session.flush()
    await repo.audit(session, by[:64], "match_declined", None, {"match_id": match.id})
    return match


async def _waiting_match(session: AsyncSession, match_id: int) -> PeerMatch:
    """The match, which must still wait for a staff decision."""
    match = await session.get(PeerMatch, match_id)
    if match is None:
        raise MatchError(f"there is no skill swap {match_id}")
    if match.status != "proposed":
        raise MatchError(f"skill swap {match_id} is already {match.status}")
    return match


async def _still_valid(
    session: AsyncSession, match: PeerMatch, teacher: Member | None, learner: Member | None
) -> str:
    """Why the match can no longer go ahead ("" when it can)."""
    if teacher is None or learner is None:
        return "a member has left"
    if not (teacher.consent and learner.consent):
        return "a member no longer agrees to SkillSpark keeping their answers"
    if teacher.network != learner.network:
        return "the members are no longer in the same network"
    if teacher.telegram_id is None or learner.telegram_id is None:
        return "a member is not on Telegram"
    skill = await session.execute(
        select(func.count())
        .select_from(MemberSkill)
        .where(
            MemberSkill.member_id == teacher.id,
            MemberSkill.skill_id == match.skill_id,
            MemberSkill.status == "confirmed",
        )
    )
    if not skill.scalar_one():
        return "the skill is no longer confirmed"
    reachable = await _reachable(session, {teacher.id, learner.id})
    if reachable != {teacher.id, learner.id}:
        return "a member has turned nudges off or blocked the bot"
    return ""


async def answer(
    session: AsyncSession, match: PeerMatch, member: Member, reply: str, *, now: datetime
) -> str:
    """Keep a member's answer to the meeting question; returns the match status after it."""
    side = "teacher" if member.id == match.teacher_id else "learner"
    setattr(match, f"{side}_answer", reply)
    if reply == "no" and match.status in ("approved", "agreed"):
        match.status = "not_agreed"
        await _cancel_other_ask(session, match, member.id)
        await repo.audit(session, "bot", "match_not_agreed", member.id, {"match_id": match.id})
    elif (
        reply == "yes"
        and match.status == "approved"
        and match.teacher_answer == "yes"
        and match.learner_answer == "yes"
    ):
        match.status = "agreed"
        await _tell_staff_to_arrange(session, match, member)
    await session.flush()
    return match.status


async def _cancel_other_ask(session: AsyncSession, match: PeerMatch, member_id: int) -> None:
    """The other member's question is not sent when this one said no."""
    rows = await session.execute(
        select(NudgeOutbox).where(
            NudgeOutbox.match_id == match.id,
            NudgeOutbox.member_id != member_id,
            NudgeOutbox.status.in_(("pending", "claimed")),
        )
    )
    for row in rows.scalars():
        row.status = "cancelled"
        row.claimed_by = None
        row.last_error = "the other member said no"


async def _tell_staff_to_arrange(session: AsyncSession, match: PeerMatch, member: Member) -> None:
    """Both said yes: staff arrange the first meeting (the bot passes no contact details)."""
    text = (
        f"Skill swap {match.id} (network {match.network}): members {match.teacher_id} and "
        f"{match.learner_id} would both like to meet about {match.label}. Please arrange "
        "their first meeting. Contact details have not been shared between them."
    )
    await repo.add_staff_alert(session, "peer_meet", member, text)
    await repo.audit(session, "bot", "match_agreed", None, {"match_id": match.id})


async def asked_before(session: AsyncSession, match_id: int, member_id: int) -> int:
    """How many times this member has been asked about this match."""
    result = await session.execute(
        select(func.count())
        .select_from(NudgeOutbox)
        .where(
            NudgeOutbox.match_id == match_id,
            NudgeOutbox.member_id == member_id,
            or_(NudgeOutbox.status == "sent", NudgeOutbox.status == "unknown"),
        )
    )
    return int(result.scalar_one())
