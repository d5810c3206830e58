"""connection set-up: auth kind, calendar names and mapping, shown fields, poll interval, calendar
claims; one UID per series AND occurrence

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SHOWN = """'["participants", "meeting_type", "custom_fields"]'::jsonb"""


def upgrade() -> None:
    table = "calendar_connections"
    op.add_column(table, sa.Column("auth_kind", sa.String(16), server_default="basic", nullable=False))
    for name in ("calendar_names", "calendar_by_meeting_type"):
        op.add_column(
            table,
            sa.Column(name, postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        )
    op.add_column(
        table,
        sa.Column("shown_fields", postgresql.JSONB(), server_default=sa.text(_SHOWN), nullable=False),
    )
    op.add_column(
        table, sa.Column("sync_interval_seconds", sa.Integer(), server_default="60", nullable=False)
    )
    op.create_table(
        "calendar_claims",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("connection_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("server_url", sa.String(2000), server_default="", nullable=False),
        sa.Column("calendar_id", sa.String(2000), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["connection_id"], ["calendar_connections.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "tenant_id", "provider", "server_url", "calendar_id", name="uq_claims_calendar"
        ),
    )
    op.create_index(
        op.f("ix_calendar_claims_tenant_id"), "calendar_claims", ["tenant_id"], unique=False
    )
    op.drop_constraint("uq_meetings_tenant_ical_uid", "meetings", type_="unique")
    op.create_unique_constraint(
        "uq_meetings_tenant_ical_uid",
        "meetings",
        ["tenant_id", "ical_uid", "recurrence_id"],
        postgresql_nulls_not_distinct=True,
    )


def downgrade() -> None:
    op.drop_constraint("uq_meetings_tenant_ical_uid", "meetings", type_="unique")
    op.create_unique_constraint("uq_meetings_tenant_ical_uid", "meetings", ["tenant_id", "ical_uid"])
    op.drop_table("calendar_claims")
    for name in (
        "sync_interval_seconds",
        "shown_fields",
        "calendar_by_meeting_type",
        "calendar_names",
        "auth_kind",
    ):
        op.drop_column("calendar_connections", name)
