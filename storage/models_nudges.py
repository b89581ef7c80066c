"""Peer opportunities and gentle nudges: what staff offer and what members are asked.

* ``opportunities``: chances to share or learn a skill (staff add them).
* ``nudge_prefs``: when each member likes to hear from the bot, and how often.
* ``nudge_outbox``: every nudge planned for a member; the send sweep claims due rows.
* ``nudge_responses``: what the member answered (one answer per nudge).
* ``peer_matches``: skill swaps proposed to staff; members are asked only after approval.

Rows about a member go with the member (``ON DELETE CASCADE``) when they ask to be
forgotten.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, LearningWish, MemberSkill, utcnow

#: Outbox states: waiting, taken by a sender, on the wire, and the end states.
OUTBOX_STATES = (
    "pending",
    "claimed",
    "sending",
    "sent",
    "unknown",
    "blocked",
    "failed",
    "cancelled",
)


class Opportunity(Base):
    """A chance to share a skill or learn one, in a network or for everyone."""

    __tablename__ = "opportunities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The staff's own key for the row, so importing the same file again updates it.
    ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text)
    emoji: Mapped[str] = mapped_column(String(16), default="🌟")
    #: Skill category ids wanted (the first one is the opportunity's "kind").
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: ``None``: open to every network (a community opportunity).
    network: Mapped[str | None] = mapped_column(String(64), index=True)
    when_text: Mapped[str] = mapped_column(String(120), default="")
    where_text: Mapped[str] = mapped_column(String(120), default="")
    contact: Mapped[str] = mapped_column(String(120))
    places: Mapped[int | None] = mapped_column(Integer)
    closes_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    closed_at: Mapped[datetime | None]

    @property
    def kind(self) -> str:
        """The opportunity's kind: its first skill category."""
        return self.categories[0] if self.categories else "other"


class NudgePrefs(Base):
    """When a member likes to hear about opportunities, and what they said before."""

    __tablename__ = "nudge_prefs"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Chosen weekdays: bit 0 is Monday ... bit 6 is Sunday.
    days_mask: Mapped[int] = mapped_column(Integer, default=1)
    #: Chosen time of day, minutes after local midnight (660 is 11:00).
    time_minutes: Mapped[int] = mapped_column(Integer, default=660)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    quiet_start: Mapped[int] = mapped_column(Integer, default=1200)
    quiet_end: Mapped[int] = mapped_column(Integer, default=540)
    weekly_cap: Mapped[int] = mapped_column(Integer, default=2)
    #: The next planned slot; ``None`` means "not planned yet".
    next_due_at: Mapped[datetime | None]
    backoff_until: Mapped[datetime | None]
    not_now_streak: Mapped[int] = mapped_column(Integer, default=0)
    #: "No thank you" answers per kind of opportunity.
    kind_declines: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    gave: Mapped[int] = mapped_column(Integer, default=0)
    received: Mapped[int] = mapped_column(Integer, default=0)
    asked_count: Mapped[int] = mapped_column(Integer, default=0)
    last_asked_at: Mapped[datetime | None]
    #: Telegram said the member blocked the bot (403); cleared when they talk again.
    blocked_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_nudge_prefs_due", "enabled", "next_due_at"),)


class PeerMatch(Base):
    """A skill swap idea: one member can do what another wants to learn (staff decide)."""

    __tablename__ = "peer_matches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network: Mapped[str] = mapped_column(String(64), index=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    learner_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    skill_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(128))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    #: proposed | approved | declined | agreed | not_agreed | withdrawn
    status: Mapped[str] = mapped_column(String(16), default="proposed", index=True)
    teacher_answer: Mapped[str | None] = mapped_column(String(12))
    learner_answer: Mapped[str | None] = mapped_column(String(12))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (
        UniqueConstraint("teacher_id", "learner_id", "skill_id", name="uq_peer_match"),
    )


class NudgeOutbox(Base):
    """One nudge for one member: planned, then claimed and sent once by a sweep."""

    __tablename__ = "nudge_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    #: opportunity | peer_teach | peer_learn
    kind: Mapped[str] = mapped_column(String(16))
    #: give (share a skill) | learn (learn one): used to balance giving and receiving.
    direction: Mapped[str] = mapped_column(String(8), default="give")
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE")
    )
    match_id: Mapped[int | None] = mapped_column(
        ForeignKey("peer_matches.id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[datetime]
    #: Quiet hours begin here: a nudge not sent by then waits for the next good time.
    send_before: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(12), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    #: The member's answer (yes | not_now | no), also in ``nudge_responses``: kept here
    #: so the planning sweep counts unanswered offers from one index.
    answer: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_nudge_outbox_due", "status", "due_at"),
        # A member's recent nudges for the planner (weekly cap, asked before); not the
        # state, which changes three times a nudge while the sender works.
        Index("ix_nudge_outbox_member", "member_id", "due_at", "answer", "opportunity_id"),
        Index("ix_nudge_outbox_offers", "opportunity_id", "due_at", "status", "answer"),
    )


class NudgeResponse(Base):
    """What a member answered to one nudge (a second tap changes nothing)."""

    __tablename__ = "nudge_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nudge_id: Mapped[int] = mapped_column(
        ForeignKey("nudge_outbox.id", ondelete="CASCADE"), unique=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE")
    )
    match_id: Mapped[int | None] = mapped_column(ForeignKey("peer_matches.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    #: yes | not_now | no
    answer: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_nudge_responses_member", "member_id", "opportunity_id", "answer"),
        Index("ix_nudge_responses_answers", "opportunity_id", "answer"),
    )


# Indexes on tables of storage/models.py that the planning sweep reads in bulk
# (migration 0004): the wishes and confirmed skills of thousands of members at once.
Index("ix_learning_wishes_member", LearningWish.member_id)
Index(
    "ix_member_skills_member_status",
    MemberSkill.member_id,
    MemberSkill.status,
    MemberSkill.category,
)
