"""The delivery log.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("meeting_version", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column(
            "recipient", sa.String(length=320), nullable=False, comment="lower-cased address"
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column(
            "state",
            sa.String(length=16),
            nullable=False,
            comment="sending: handed to SMTP maybe (a crash here re-sends once, same Message-ID); "
            "sent; failed (permanent, 5xx)",
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("meeting_id", "meeting_version", "method", "recipient"),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
