"""member preferences: read aloud, fewer pictures (and room for more)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 13:20:00

One JSON column on ``members``; an empty object means every default.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``members.preferences`` (an empty JSON object for everyone)."""
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("preferences", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    """Drop ``members.preferences`` (members' choices are lost)."""
    with op.batch_alter_table("members") as batch:
        batch.drop_column("preferences")
