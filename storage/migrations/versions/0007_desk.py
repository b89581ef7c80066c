"""desk: staff passwords, one-time sign-in links, alerts seen

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-06 03:50:00

Declared in ``storage/models_desk.py``; used by the staff desk (``bot/desk``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``desk_logins``, ``desk_links`` and ``alerts_seen``."""
    op.create_table(
        "desk_logins",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sessions_valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("staff_id"),
    )
    op.create_table(
        "desk_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_desk_links_staff_id", "desk_links", ["staff_id"])
    op.create_table(
        "alerts_seen",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("seen_by", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["staff_alerts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("alert_id"),
    )


def downgrade() -> None:
    """Drop the desk tables (passwords and sign-in links are lost)."""
    op.drop_table("alerts_seen")
    op.drop_index("ix_desk_links_staff_id", table_name="desk_links")
    op.drop_table("desk_links")
    op.drop_table("desk_logins")
