"""Reading what an export needs, in batches of members, without holding it all in memory.

Only members who said yes to sharing (``Member.consent is True``) are ever read:
the consent test is part of every member query here. Members are paged by id
(keyset paging), and each page's skills, wishes and ratings are read with one
query each, so memory stays flat however many members there are.

The XLSX export reads each of its long sheets (skills, wishes, ratings, answers)
with one streamed query instead (:func:`sheet_rows`), joined to the members the
filter selects, as plain rows in the sheet's order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import ColumnElement, Float, Select, func, null, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Answer, ConfidenceRating, LearningWish, Member, MemberSkill

#: Members per page; also the size of the ``IN (...)`` lists (well under SQLite's limit).
BATCH = 1000
#: Rows fetched at a time from one result.
YIELD_PER = 5000

T = TypeVar("T", bound=tuple[Any, ...])
Query = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class ExportFilter:
    """Which members to export: consent always, then network, ids and activity date."""

    network: str | None = None
    member_ids: tuple[int, ...] = ()
    #: Members active on or after this time; answers given on or after it.
    since: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """SQL conditions on ``members``; the consent test is always first."""
        found: list[ColumnElement[bool]] = [Member.consent.is_(True)]
        if self.network is not None:
            found.append(Member.network == self.network)
        if self.member_ids:
            found.append(Member.id.in_(self.member_ids))
        if self.since is not None:
            found.append(Member.last_active_at >= self.since)
        return found


class MemberRow(NamedTuple):
    """One consenting member."""

    id: int
    first_name: str | None
    network: str
    consent_at: datetime | None
    created_at: datetime
    last_active_at: datetime


class SkillRow(NamedTuple):
    """A skill proposed to a member, with the answer it came from (the evidence)."""

    member_id: int
    skill_id: str
    category: str
    label: str
    status: str
    source: str | None  # None when details were not read
    created_at: datetime | None
    updated_at: datetime | None
    question_id: str | None
    answer_kind: str | None
    answer_text: str | None

    @property
    def words(self) -> str:
        """The member's own words behind the skill (empty for a button press)."""
        return (self.answer_text or "") if self.answer_kind == "text" else ""


class WishRow(NamedTuple):
    """Something a member wants to learn, with the answer it came from."""

    member_id: int
    skill_id: str | None
    label: str
    created_at: datetime | None  # None when details were not read
    question_id: str | None
    answer_kind: str | None
    answer_text: str | None

    @property
    def words(self) -> str:
        """The member's own words behind the wish (empty for a button press)."""
        return (self.answer_text or "") if self.answer_kind == "text" else ""


class RatingRow(NamedTuple):
    """How a member felt about their skills at one moment (1 low .. 3 good)."""

    member_id: int
    moment: str
    value: int
    session_no: int
    created_at: datetime


@dataclass(frozen=True)
class Needs:
    """What an export format reads besides the members."""

    #: Skill statuses to read (``None``: every status).
    skill_statuses: tuple[str, ...] | None = ("confirmed",)
    #: Read dates, sources and the question and words each skill and wish came from.
    details: bool = True


@dataclass
class Batch:
    """One page of members and everything read about them, by member id."""

    members: list[MemberRow]
    skills: dict[int, list[SkillRow]] = field(default_factory=dict)
    wishes: dict[int, list[WishRow]] = field(default_factory=dict)
    ratings: dict[int, list[RatingRow]] = field(default_factory=dict)
    opportunities: dict[int, list[str]] = field(default_factory=dict)


async def count_members(session: AsyncSession, filt: ExportFilter) -> int:
    """How many consenting members the filter selects."""
    stmt = select(func.count()).select_from(Member).where(*filt.conditions())
    return int((await session.execute(stmt)).scalar_one())


async def iter_batches(
    session: AsyncSession, filt: ExportFilter, needs: Needs, size: int = BATCH
) -> AsyncIterator[Batch]:
    """Pages of consenting members (by id) with what ``needs`` asks for."""
    last = 0
    while True:
        stmt = (
            select(
                Member.id,
                Member.first_name,
                Member.network,
                Member.consent_at,
                Member.created_at,
                Member.last_active_at,
            )
            .where(*filt.conditions(), Member.id > last)
            .order_by(Member.id)
            .limit(size)
        )
        connection = await session.connection()
        members = [MemberRow(*row) for row in (await connection.execute(stmt)).all()]
        if not members:
            return
        last = members[-1].id
        yield await load_batch(session, members, filt, needs)


async def load_batch(
    session: AsyncSession, members: list[MemberRow], filt: ExportFilter, needs: Needs
) -> Batch:
    """Read skills, wishes and ratings for these members."""
    ids = [m.id for m in members]
    batch = Batch(members)
    batch.skills = await _grouped(session, _skills_query(ids, needs), SkillRow)
    batch.wishes = await _grouped(session, _wishes_query(ids, needs), WishRow)
    ratings: Query = (
        select(
            ConfidenceRating.member_id,
            ConfidenceRating.moment,
            ConfidenceRating.value,
            ConfidenceRating.session_no,
            ConfidenceRating.created_at,
        )
        .where(ConfidenceRating.member_id.in_(ids))
        .order_by(ConfidenceRating.member_id, ConfidenceRating.created_at, ConfidenceRating.id)
    )
    batch.ratings = await _grouped(session, ratings, RatingRow)
    batch.opportunities = await load_opportunities(session, ids)
    return batch


def _skills_query(ids: list[int], needs: Needs) -> Query:
    """Skills of these members; dates, source and evidence only when needed."""
    evidence = aliased(Answer)
    stmt: Query
    if needs.details:
        stmt = select(
            MemberSkill.member_id,
            MemberSkill.skill_id,
            MemberSkill.category,
            MemberSkill.label,
            MemberSkill.status,
            MemberSkill.source,
            MemberSkill.created_at,
            MemberSkill.updated_at,
            evidence.question_id,
            evidence.kind,
            evidence.text,
        ).outerjoin(evidence, evidence.id == MemberSkill.evidence_answer_id)
    else:
        stmt = select(
            MemberSkill.member_id,
            MemberSkill.skill_id,
            MemberSkill.category,
            MemberSkill.label,
            MemberSkill.status,
            *(null() for _ in range(6)),
        )
    stmt = stmt.where(MemberSkill.member_id.in_(ids)).order_by(
        MemberSkill.member_id, MemberSkill.created_at, MemberSkill.id
    )
    if needs.skill_statuses is not None:
        stmt = stmt.where(MemberSkill.status.in_(needs.skill_statuses))
    return stmt


def _wishes_query(ids: list[int], needs: Needs) -> Query:
    """Learning wishes of these members; date and evidence only when needed."""
    evidence = aliased(Answer)
    stmt: Query
    if needs.details:
        stmt = select(
            LearningWish.member_id,
            LearningWish.skill_id,
            LearningWish.label,
            LearningWish.created_at,
            evidence.question_id,
            evidence.kind,
            evidence.text,
        ).outerjoin(evidence, evidence.id == LearningWish.answer_id)
    else:
        stmt = select(
            LearningWish.member_id,
            LearningWish.skill_id,
            LearningWish.label,
            *(null() for _ in range(4)),
        )
    return stmt.where(LearningWish.member_id.in_(ids)).order_by(
        LearningWish.member_id, LearningWish.created_at, LearningWish.id
    )


async def _grouped(session: AsyncSession, stmt: Query, row_type: type[T]) -> dict[int, list[T]]:
    """Stream a query's rows into lists by their first column (the member id)."""
    grouped: dict[int, list[T]] = defaultdict(list)
    connection = await session.connection()  # Core rows: no ORM work per row
    result = await connection.stream(stmt.execution_options(yield_per=YIELD_PER))
    async for partition in result.partitions():
        for row in partition:
            grouped[row[0]].append(row_type(*row))
    return grouped


# ------------------------------------------------------------ whole-sheet streams

#: The Julian day number of spreadsheet day 0 (1899-12-30, midnight).
_SHEET_EPOCH_JULIAN = 2_415_018.5

Table = type[MemberSkill] | type[LearningWish] | type[ConfidenceRating] | type[Answer]


@dataclass(frozen=True)
class SheetSize:
    """How many rows a sheet's query will give at most, and the last row id it may give.

    Reading only rows up to ``last_id`` keeps rows added during the export out, so
    the count made before writing stays an upper bound (nothing is cut off).
    """

    rows: int
    last_id: int


def sheet_time(column: Any, dialect: str) -> Any:
    """A stored UTC time as a spreadsheet date number, worked out by SQLite itself.

    SQLite keeps times as text; turning a million of them into ``datetime``
    objects costs seconds, so SQLite gives the number directly (its Julian day
    counts milliseconds: the number is right to well under a millisecond).
    Other databases give the stored time, turned into a number in Python.
    """
    if dialect != "sqlite":
        return column
    return type_coerce(func.julianday(column) - _SHEET_EPOCH_JULIAN, Float)


async def sheet_size(
    session: AsyncSession, table: Table, filt: ExportFilter, answers_since: bool = False
) -> SheetSize:
    """How many of the table's rows belong to the selected members (and their last id)."""
    stmt = (
        select(func.count(), func.max(table.id))
        .select_from(table)
        .join(Member, table.member_id == Member.id)
        .where(*filt.conditions())
    )
    if answers_since and filt.since is not None:
        stmt = stmt.where(Answer.created_at >= filt.since)
    count, last = (await session.execute(stmt)).one()
    return SheetSize(int(count), int(last or 0))


def skills_sheet_query(filt: ExportFilter, size: SheetSize, dialect: str) -> Query:
    """Every skill of the selected members with its evidence, by member then age.

    Columns: member id, first name, category, label, status, source, found on,
    answered on (spreadsheet dates), question id, answer kind, answer text.
    """
    evidence = aliased(Answer)
    return (
        select(
            MemberSkill.member_id,
            Member.first_name,
            MemberSkill.category,
            MemberSkill.label,
            MemberSkill.status,
            MemberSkill.source,
            sheet_time(MemberSkill.created_at, dialect),
            sheet_time(MemberSkill.updated_at, dialect),
            evidence.question_id,
            evidence.kind,
            evidence.text,
        )
        .join(Member, MemberSkill.member_id == Member.id)
        .outerjoin(evidence, evidence.id == MemberSkill.evidence_answer_id)
        .where(*filt.conditions(), MemberSkill.id <= size.last_id)
        .order_by(MemberSkill.member_id, MemberSkill.created_at, MemberSkill.id)
    )


def wishes_sheet_query(filt: ExportFilter, size: SheetSize, dialect: str) -> Query:
    """Every learning wish of the selected members with its evidence.

    Columns: member id, first name, label, said on (a spreadsheet date),
    question id, answer kind, answer text.
    """
    evidence = aliased(Answer)
    return (
        select(
            LearningWish.member_id,
            Member.first_name,
            LearningWish.label,
            sheet_time(LearningWish.created_at, dialect),
            evidence.question_id,
            evidence.kind,
            evidence.text,
        )
        .join(Member, LearningWish.member_id == Member.id)
        .outerjoin(evidence, evidence.id == LearningWish.answer_id)
        .where(*filt.conditions(), LearningWish.id <= size.last_id)
        .order_by(LearningWish.member_id, LearningWish.created_at, LearningWish.id)
    )


def ratings_sheet_query(filt: ExportFilter, size: SheetSize, dialect: str) -> Query:
    """Every confidence rating of the selected members, oldest first.

    Columns: member id, first name, said on (a spreadsheet date), moment,
    chat number, value.
    """
    return (
        select(
            ConfidenceRating.member_id,
            Member.first_name,
            sheet_time(ConfidenceRating.created_at, dialect),
            ConfidenceRating.moment,
            ConfidenceRating.session_no,
            ConfidenceRating.value,
        )
        .join(Member, ConfidenceRating.member_id == Member.id)
        .where(*filt.conditions(), ConfidenceRating.id <= size.last_id)
        .order_by(ConfidenceRating.member_id, ConfidenceRating.created_at, ConfidenceRating.id)
    )


def answers_sheet_query(filt: ExportFilter, size: SheetSize, dialect: str) -> Query:
    """Every answer of the selected members (from ``since`` when given), oldest first.

    Columns: member id, given on (a spreadsheet date), question id, kind,
    choice, text.
    """
    stmt = (
        select(
            Answer.member_id,
            sheet_time(Answer.created_at, dialect),
            Answer.question_id,
            Answer.kind,
            Answer.choice,
            Answer.text,
        )
        .join(Member, Answer.member_id == Member.id)
        .where(*filt.conditions(), Answer.id <= size.last_id)
        .order_by(Answer.member_id, Answer.created_at, Answer.id)
    )
    if filt.since is not None:
        stmt = stmt.where(Answer.created_at >= filt.since)
    return stmt


async def sheet_rows(session: AsyncSession, stmt: Query) -> AsyncGenerator[Sequence[Any]]:
    """A query's rows in chunks (Core rows: tuples, no ORM work per row)."""
    connection = await session.connection()
    result = await connection.stream(stmt.execution_options(yield_per=YIELD_PER))
    try:
        async for partition in result.partitions():
            yield partition
    finally:
        await result.close()


async def load_opportunities(session: AsyncSession, ids: Iterable[int]) -> dict[int, list[str]]:
    """Opportunities each member said yes to.

    SkillSpark does not offer opportunities yet, so there is nothing to read:
    exports keep the column (empty) until that part exists.
    """
    del session, ids
    return {}
