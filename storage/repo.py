"""Repository functions: every query the application makes, in one place.

Each function takes an open ``AsyncSession`` inside the caller's transaction
(one transaction per unit of work; the caller commits).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

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
from storage.prepared import Prepared


def table_of(model: type[Base]) -> Table:
    """The table behind an ORM class (for Core statements)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


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


_MEMBER_COLUMNS = tuple(table_of(Member).c)
_STATE_COLUMNS = tuple(table_of(ConversationState).c)


def _state_query(where: ColumnElement[bool], *, lock: bool) -> Prepared:
    """Member and conversation state columns in one query (the state row locked when ``lock``)."""
    stmt = (
        select(*_MEMBER_COLUMNS, *_STATE_COLUMNS)
        .join_from(
            table_of(Member),
            table_of(ConversationState),
            _STATE_COLUMNS[0] == _MEMBER_COLUMNS[0],
        )
        .where(where)
    )
    return Prepared(stmt.with_for_update(of=table_of(ConversationState)) if lock else stmt)


#: Built once: building a statement costs more than running it on SQLite.
_BY_TELEGRAM = {
    lock: _state_query(table_of(Member).c.telegram_id == bindparam("key"), lock=lock)
    for lock in (False, True)
}
_BY_LOCAL = {
    lock: _state_query(table_of(Member).c.local_id == bindparam("key"), lock=lock)
    for lock in (False, True)
}


async def member_and_state(
    session: AsyncSession, channel: str, external_id: str, *, network: str, language: str
) -> tuple[Member, ConversationState]:
    """The member and their conversation state in one query (created when new).

    On PostgreSQL the state row is locked for the rest of the transaction.
    The member is in the session (a change to it is written at commit); the
    state is not: the turn changes it in memory and :func:`save_state` writes
    it with one UPDATE (tracked, each change made the next query flush it
    first, an ORM UPDATE of its own on every turn).
    """
    lock = session.bind is not None and session.bind.dialect.name == "postgresql"
    key: int | str
    if channel == "telegram":
        try:
            key, query = int(external_id), _BY_TELEGRAM[lock]
        except ValueError:
            key, query = f"tg:{external_id}"[:64], _BY_LOCAL[lock]
    else:
        key, query = external_id[:64], _BY_LOCAL[lock]
    rows = await query.rows(session, {"key": key})
    if not rows:
        member, _ = await get_or_create_member(
            session, channel, external_id, network=network, language=language
        )
        return member, await load_state(session, member.id)
    row = rows[0]
    split = len(_MEMBER_COLUMNS)
    member = _loaded(session, Member, _MEMBER_COLUMNS, row[:split])
    state = _loaded(None, ConversationState, _STATE_COLUMNS, row[split:])
    return member, state


_Loaded = TypeVar("_Loaded", Member, ConversationState)


def _loaded(
    session: AsyncSession | None,
    model: type[_Loaded],
    columns: tuple[Any, ...],
    values: Sequence[Any],
) -> _Loaded:
    """An object for a row read without the ORM, as if the ORM had loaded it.

    With a ``session`` it is put in that session (the one already there when
    the session loaded it before); without, it stays detached.
    """
    if session is not None:
        known = session.sync_session.identity_map.get(identity_key(model, values[0]))
        if isinstance(known, model):
            expired = sa_inspect(known).expired_attributes
            for column, value in zip(columns, values, strict=True):
                if column.key in expired:
                    set_committed_value(known, column.key, value)  # as a query would refresh
            return known
    obj = model(**{column.key: value for column, value in zip(columns, values, strict=True)})
    make_transient_to_detached(obj)
    if session is not None:
        session.add(obj)
    return obj


async def record_input(session: AsyncSession, key: str, member_id: int | None) -> None:
    """Record a channel update key in this transaction (IntegrityError when seen before)."""
    await _INSERT_INPUT.run(session, {"key": key[:64], "member_id": member_id, "at": utcnow()})


_INSERT_INPUT = Prepared(
    insert(table_of(ProcessedInput)).values(
        key=bindparam("key"), member_id=bindparam("member_id"), created_at=bindparam("at")
    )
)


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
) -> int:
    """Store what the member said, verbatim; long text is cut and the cut recorded.

    Returns the answer's id. (Core inserts here and below: these run on every
    turn, and the ORM's unit of work costs several times the insert itself.)
    """
    row = {
        "member_id": member_id,
        "question_id": question_id[:96],
        "kind": kind,
        "choice": choice,
        "text": text[:max_chars],
        "truncated": len(text) > max_chars,
        "original_length": len(text),
        "intent": intent,
        "created_at": utcnow(),
    }
    return await _INSERT_ANSWER.insert_id(session, row)


_ANSWER_COLUMNS = (
    "member_id",
    "question_id",
    "kind",
    "choice",
    "text",
    "truncated",
    "original_length",
    "intent",
    "created_at",
)
_INSERT_ANSWER = Prepared(insert(table_of(Answer)), keys=_ANSWER_COLUMNS)
_SKILLS = table_of(MemberSkill).c
_SKILL_STATUSES = select(MemberSkill.skill_id, MemberSkill.status).where(
    MemberSkill.member_id == bindparam("member_id")
)


async def skill_statuses(session: AsyncSession, member_id: int) -> dict[str, str]:
    """Each skill id proposed to the member and its status."""
    rows = await session.execute(_SKILL_STATUSES, {"member_id": member_id})
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
) -> None:
    """Create or update the member's record for one skill (one upsert statement)."""
    now = utcnow()
    row = {
        "member_id": member_id,
        "skill_id": skill_id,
        "category": category,
        "label": label,
        "status": status,
        "source": source,
        "evidence_answer_id": evidence_answer_id,
        "created_at": now,
        "updated_at": now,
    }
    await _skill_upsert(session).run(session, row)


_SKILL_UPSERTS: dict[str, Any] = {}


def per_dialect(session: AsyncSession, built: dict[str, Any], build: Callable[[Any], Any]) -> Any:
    """A statement built once per database dialect and kept in ``built``.

    ``build`` gets the dialect's ``insert`` (SQLite's or PostgreSQL's, both with
    ``on_conflict_do_...``).
    """
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    stmt = built.get(dialect)
    if stmt is None:
        module: Any = postgresql if dialect == "postgresql" else sqlite
        stmt = built[dialect] = build(module.insert)
    return stmt


def _skill_upsert(session: AsyncSession) -> Prepared:
    """``INSERT ... ON CONFLICT (member_id, skill_id) DO UPDATE`` for the session's database.

    An existing record keeps its category, label, source and first evidence
    unless new evidence is given.
    """

    def build(insert_: Any) -> Prepared:
        base = insert_(table_of(MemberSkill))
        upsert = base.on_conflict_do_update(
            index_elements=[_SKILLS.member_id, _SKILLS.skill_id],
            set_={
                "status": base.excluded.status,
                "updated_at": base.excluded.updated_at,
                "evidence_answer_id": func.coalesce(
                    base.excluded.evidence_answer_id, _SKILLS.evidence_answer_id
                ),
            },
        )
        return Prepared(upsert, keys=_SKILL_COLUMNS)

    prepared: Prepared = per_dialect(session, _SKILL_UPSERTS, build)
    return prepared


_SKILL_COLUMNS = (
    "member_id",
    "skill_id",
    "category",
    "label",
    "status",
    "source",
    "evidence_answer_id",
    "created_at",
    "updated_at",
)


async def save_state(
    session: AsyncSession, state: ConversationState, data: dict[str, Any], now: datetime
) -> None:
    """Write the conversation state with one UPDATE and stop tracking the object.

    (The engine saves the state on every turn; this avoids the ORM's unit of
    work, which costs several times the statement.)
    """
    values = {
        "b_member_id": state.member_id,
        "b_status": state.status,
        "b_flow_id": state.flow_id,
        "b_step_id": state.step_id,
        "b_phase": state.phase,
        "b_seq": state.seq,
        "b_session_no": state.session_no,
        "b_data": data,
        "b_updated_at": now,
    }
    if state in session:
        await session.flush()  # a new state is inserted before it is updated
        session.expunge(state)
    await _SAVE_STATE.run(session, values)
    state.data = data
    state.updated_at = now


_STATES = table_of(ConversationState).c
_SAVE_STATE = Prepared(
    update(table_of(ConversationState))
    .where(_STATES.member_id == bindparam("b_member_id"))
    .values(
        {
            column: bindparam(f"b_{column}")
            for column in (
                "status",
                "flow_id",
                "step_id",
                "phase",
                "seq",
                "session_no",
                "data",
                "updated_at",
            )
        }
    )
)


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
