"""nudge sweep: indexes for bulk reads, and each nudge's answer kept on the nudge

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 10:00:00

The planning sweep reads the learning wishes, confirmed skills and earlier
nudges of thousands of due members at once, and counts every open
opportunity's offers and "yes" answers each minute:

* ``learning_wishes`` had no index on ``member_id`` (each sweep read the whole
  table); ``member_skills`` needed a look-up in the table for every skill;
* ``nudge_outbox.answer`` keeps the member's answer next to the nudge (also in
  ``nudge_responses``), so "offered and not answered yet" is read from one
  index instead of joining every recent nudge to the answers;
* ``nudge_responses`` by opportunity and answer counts the "yes" answers from
  the index alone (it replaces the index on ``opportunity_id`` alone, as the
  new outbox index replaces ``ix_nudge_outbox_opportunity_id``);
* a member's nudges and answers are read from the member indexes (they now
  hold the answer and the opportunity; not the state, which changes three
  times a nudge while it is sent).

Declared in ``storage/models_nudges.py``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the indexes and ``nudge_outbox.answer`` (filled from the answers already given)."""
    with op.batch_alter_table("learning_wishes", schema=None) as batch_op:
        batch_op.create_index("ix_learning_wishes_member", ["member_id"], unique=False)
    with op.batch_alter_table("member_skills", schema=None) as batch_op:
        batch_op.create_index(
            "ix_member_skills_member_status", ["member_id", "status", "category"], unique=False
        )
    op.add_column("nudge_outbox", sa.Column("answer", sa.String(length=12), nullable=True))
    op.execute(
        "UPDATE nudge_outbox SET answer = (SELECT r.answer FROM nudge_responses r"
        " WHERE r.nudge_id = nudge_outbox.id)"
        " WHERE EXISTS (SELECT 1 FROM nudge_responses r WHERE r.nudge_id = nudge_outbox.id)"
    )
    with op.batch_alter_table("nudge_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_nudge_outbox_opportunity_id")
        batch_op.create_index(
            "ix_nudge_outbox_offers",
            ["opportunity_id", "due_at", "status", "answer"],
            unique=False,
        )
        batch_op.drop_index("ix_nudge_outbox_member")
        batch_op.create_index(
            "ix_nudge_outbox_member",
            ["member_id", "due_at", "answer", "opportunity_id"],
            unique=False,
        )
    with op.batch_alter_table("nudge_responses", schema=None) as batch_op:
        batch_op.drop_index("ix_nudge_responses_opportunity_id")
        batch_op.drop_index("ix_nudge_responses_member_id")
        batch_op.create_index(
            "ix_nudge_responses_member", ["member_id", "opportunity_id", "answer"], unique=False
        )
        batch_op.create_index(
            "ix_nudge_responses_answers", ["opportunity_id", "answer"], unique=False
        )


def downgrade() -> None:
    """Back to the indexes of 0003, without ``nudge_outbox.answer``."""
    with op.batch_alter_table("nudge_responses", schema=None) as batch_op:
        batch_op.drop_index("ix_nudge_responses_answers")
        batch_op.drop_index("ix_nudge_responses_member")
        batch_op.create_index("ix_nudge_responses_member_id", ["member_id"], unique=False)
        batch_op.create_index("ix_nudge_responses_opportunity_id", ["opportunity_id"], unique=False)
    with op.batch_alter_table("nudge_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_nudge_outbox_member")
        batch_op.create_index("ix_nudge_outbox_member", ["member_id", "due_at"], unique=False)
        batch_op.drop_index("ix_nudge_outbox_offers")
        batch_op.create_index("ix_nudge_outbox_opportunity_id", ["opportunity_id"], unique=False)
    op.drop_column("nudge_outbox", "answer")
    with op.batch_alter_table("member_skills", schema=None) as batch_op:
        batch_op.drop_index("ix_member_skills_member_status")
    with op.batch_alter_table("learning_wishes", schema=None) as batch_op:
        batch_op.drop_index("ix_learning_wishes_member")
