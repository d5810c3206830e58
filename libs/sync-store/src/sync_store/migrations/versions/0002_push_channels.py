"""Push channels: a provider's push subscription per calendar of a connection.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_channels",
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("calendar_id", sa.String(length=2000), nullable=False),
        sa.Column("resource_id", sa.String(length=2000), nullable=False),
        sa.Column("address", sa.String(length=2000), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel_id"),
    )
    op.create_index("ix_push_channels_connection", "push_channels", ["connection_id"])


def downgrade() -> None:
    op.drop_index("ix_push_channels_connection", table_name="push_channels")
    op.drop_table("push_channels")
