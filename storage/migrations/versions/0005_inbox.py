"""inbox: updates received and not answered yet

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 16:30:00

Long polling confirms updates to Telegram once they are in this table, and a
row is deleted once the update is handled and its replies are sent. Rows left
after a crash are handled again at start-up. See ``storage/inbox.py``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``inbound_updates``."""
    op.create_table(
        "inbound_updates",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "update_id"),
    )


def downgrade() -> None:
    """Drop ``inbound_updates`` (updates still in it are lost)."""
    op.drop_table("inbound_updates")
