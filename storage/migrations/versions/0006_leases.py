"""leases: several bot processes on one database

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 04:00:00

Each inbox row records its chat and the process that took it; a chat is
handled by one process at a time (``chat_leases``); jobs that must run once
across processes, and long polling, hold a row in ``job_leases``. See
``storage/leases.py`` and docs/deploy.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the inbox's chat and owner; create ``chat_leases`` and ``job_leases``."""
    with op.batch_alter_table("inbound_updates") as batch:
        batch.add_column(sa.Column("chat", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("owner", sa.String(length=96), nullable=True))
    op.create_index("ix_inbound_updates_chat", "inbound_updates", ["channel", "chat"])
    op.create_table(
        "chat_leases",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("chat", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.String(length=96), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "chat"),
    )
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=96), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    """Drop the lease tables and the inbox's new columns."""
    op.drop_table("job_leases")
    op.drop_table("chat_leases")
    op.drop_index("ix_inbound_updates_chat", table_name="inbound_updates")
    with op.batch_alter_table("inbound_updates") as batch:
        batch.drop_column("owner")
        batch.drop_column("chat")
