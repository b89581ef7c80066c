"""SQLAlchemy 2 typed models: everything SkillSpark keeps.

Times are stored as timezone-aware UTC. Member text is kept verbatim (very long
text is truncated and the truncation recorded). Alembic migrations under
``storage/migrations`` create these tables; keep both in step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base for all SkillSpark tables."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class Member(Base):
    """A person using SkillSpark, on Telegram and/or the terminal chat."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    local_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(64))
    network: Mapped[str] = mapped_column(String(64), default="default")
    language: Mapped[str] = mapped_column(String(8), default="en")
    consent: Mapped[bool | None] = mapped_column(Boolean, default=None)
    consent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_active_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: What the member chose for how the bot talks to them (see
    #: ``bot/conversation`` preferences): ``read_aloud`` (voice notes with each
    #: question), ``fewer_pictures``, and room for more (``supporter``: with
    #: help / on my own). Missing keys mean the default.
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")


class Answer(Base):
    """One thing a member said or pressed, verbatim, against the question asked."""

    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(96))
    kind: Mapped[str] = mapped_column(String(16))  # button | text | command | unsupported
    choice: Mapped[str | None] = mapped_column(String(32))  # normalised: yes, a_bit, no...
    text: Mapped[str] = mapped_column(Text, default="")
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    original_length: Mapped[int] = mapped_column(Integer, default=0)
    intent: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_answers_member", "member_id", "created_at"),)


class MemberSkill(Base):
    """A skill proposed to a member and what they said about it."""

    __tablename__ = "member_skills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    skill_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # suggested | confirmed | declined | unsure
    source: Mapped[str] = mapped_column(String(16))  # question | finder
    evidence_answer_id: Mapped[int | None] = mapped_column(
        ForeignKey("answers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("member_id", "skill_id", name="uq_member_skill"),)


class LearningWish(Base):
    """Something a member would like to learn."""

    __tablename__ = "learning_wishes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    skill_id: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConfidenceRating(Base):
    """How a member feels about the things they can do (1 low .. 3 good), over time."""

    __tablename__ = "confidence_ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    moment: Mapped[str] = mapped_column(String(8))  # start | end
    value: Mapped[int] = mapped_column(Integer)
    session_no: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationState(Base):
    """Where a member is in the conversation. The only conversation memory."""

    __tablename__ = "conversation_states"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default="active")
    flow_id: Mapped[str] = mapped_column(String(64), default="onboarding")
    step_id: Mapped[str] = mapped_column(String(64), default="")
    phase: Mapped[str] = mapped_column(String(24), default="step")
    seq: Mapped[int] = mapped_column(Integer, default=0)
    session_no: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedInput(Base):
    """A channel update already handled (Telegram may deliver one twice)."""

    __tablename__ = "processed_inputs"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundUpdate(Base):
    """An update received from a chat channel and not answered yet (``storage/inbox.py``)."""

    __tablename__ = "inbound_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the chat it belongs to (one process handles a chat at a time: ``ChatLease``)
    chat: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: the process that took it last (``SKILLSPARK_PROCESS_ID``); None until taken
    owner: Mapped[str | None] = mapped_column(String(96))

    __table_args__ = (Index("ix_inbound_updates_chat", "channel", "chat"),)


class ChatLease(Base):
    """One chat handled by one bot process until ``until`` (renewed while it works)."""

    __tablename__ = "chat_leases"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(String(96))
    until: Mapped[datetime] = mapped_column()


class JobLease(Base):
    """A job that runs in one bot process at a time (a sweep, long polling)."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(96))
    until: Mapped[datetime] = mapped_column()


class StaffAlert(Base):
    """Something staff must hear about (a distress message, an erasure): an outbox row.

    ``member_id`` is a plain number, not a foreign key, so a notice that a member's
    data was erased can outlive the member row.
    """

    __tablename__ = "staff_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # distress | erasure
    member_id: Mapped[int | None] = mapped_column(Integer, index=True)
    network: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))


class AuditEvent(Base):
    """Who did what, when: consent, exports, erasure, safety alerts."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    member_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
