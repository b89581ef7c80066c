"""peer opportunities and gentle nudges

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the opportunities, nudge preferences, outbox, responses and peer match tables."""
    op.create_table(
        "opportunities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("emoji", sa.String(length=16), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=True),
        sa.Column("when_text", sa.String(length=120), nullable=False),
        sa.Column("where_text", sa.String(length=120), nullable=False),
        sa.Column("contact", sa.String(length=120), nullable=False),
        sa.Column("places", sa.Integer(), nullable=True),
        sa.Column("closes_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ref"),
    )
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opportunities_network"), ["network"], unique=False)
        batch_op.create_index(batch_op.f("ix_opportunities_status"), ["status"], unique=False)

    op.create_table(
        "nudge_prefs",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("days_mask", sa.Integer(), nullable=False),
        sa.Column("time_minutes", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("quiet_start", sa.Integer(), nullable=False),
        sa.Column("quiet_end", sa.Integer(), nullable=False),
        sa.Column("weekly_cap", sa.Integer(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("backoff_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("not_now_streak", sa.Integer(), nullable=False),
        sa.Column("kind_declines", sa.JSON(), nullable=False),
        sa.Column("gave", sa.Integer(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("asked_count", sa.Integer(), nullable=False),
        sa.Column("last_asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("member_id"),
    )
    with op.batch_alter_table("nudge_prefs", schema=None) as batch_op:
        batch_op.create_index("ix_nudge_prefs_due", ["enabled", "next_due_at"], unique=False)

    op.create_table(
        "peer_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("teacher_id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("teacher_answer", sa.String(length=12), nullable=True),
        sa.Column("learner_answer", sa.String(length=12), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["learner_id"], ["members.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["teacher_id"], ["members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("teacher_id", "learner_id", "skill_id", name="uq_peer_match"),
    )
    with op.batch_alter_table("peer_matches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_peer_matches_learner_id"), ["learner_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_peer_matches_network"), ["network"], unique=False)
        batch_op.create_index(batch_op.f("ix_peer_matches_status"), ["status"], unique=False)

    op.create_table(
        "nudge_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=True),
        sa.Column("match_id", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("send_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["match_id"], ["peer_matches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunities.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("nudge_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_nudge_outbox_due", ["status", "due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_nudge_outbox_match_id"), ["match_id"], unique=False)
        batch_op.create_index("ix_nudge_outbox_member", ["member_id", "due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_nudge_outbox_opportunity_id"), ["opportunity_id"], unique=False
        )

    op.create_table(
        "nudge_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nudge_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=True),
        sa.Column("match_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("answer", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["match_id"], ["peer_matches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["nudge_id"], ["nudge_outbox.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunities.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nudge_id"),
    )
    with op.batch_alter_table("nudge_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_nudge_responses_member_id"), ["member_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_nudge_responses_opportunity_id"), ["opportunity_id"], unique=False
        )


def downgrade() -> None:
    """Drop the nudge tables."""
    with op.batch_alter_table("nudge_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nudge_responses_opportunity_id"))
        batch_op.drop_index(batch_op.f("ix_nudge_responses_member_id"))

    op.drop_table("nudge_responses")
    with op.batch_alter_table("nudge_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nudge_outbox_opportunity_id"))
        batch_op.drop_index("ix_nudge_outbox_member")
        batch_op.drop_index(batch_op.f("ix_nudge_outbox_match_id"))
        batch_op.drop_index("ix_nudge_outbox_due")

    op.drop_table("nudge_outbox")
    with op.batch_alter_table("peer_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_peer_matches_status"))
        batch_op.drop_index(batch_op.f("ix_peer_matches_network"))
        batch_op.drop_index(batch_op.f("ix_peer_matches_learner_id"))

    op.drop_table("peer_matches")
    with op.batch_alter_table("nudge_prefs", schema=None) as batch_op:
        batch_op.drop_index("ix_nudge_prefs_due")

    op.drop_table("nudge_prefs")
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opportunities_status"))
        batch_op.drop_index(batch_op.f("ix_opportunities_network"))

    op.drop_table("opportunities")
