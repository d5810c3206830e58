"""Sync service state: connections, links (status table), cursors, bad items, forgotten
meetings, pending CRM changes. Written out, not ``metadata.create_all``: a revision must keep
creating the schema of its day when ``tables.py`` moves on (``test_migrations`` checks that
head equals ``tables.py``).

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bad_items",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=2000), nullable=False),
        sa.Column("calendar_id", sa.String(length=2000), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column(
            "seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("connection_id", "external_id"),
    )
    op.create_table(
        "connections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("config", postgresql.JSONB(), nullable=False),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sync_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("full_requested", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "next_poll_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=True,
        ),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "cursors",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("calendar_id", sa.String(length=2000), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("connection_id", "calendar_id"),
    )
    op.create_table(
        "forgotten_meetings",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", "meeting_id"),
    )
    op.create_table(
        "links",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=2000), nullable=False),
        sa.Column("calendar_id", sa.String(length=2000), nullable=False),
        sa.Column("version_tag", sa.String(length=500), nullable=True),
        sa.Column("provider_hash", sa.String(length=64), nullable=True),
        sa.Column("crm_meeting_id", sa.Uuid(), nullable=True),
        sa.Column("ical_uid", sa.String(length=1000), nullable=True),
        sa.Column("crm_version", sa.Integer(), nullable=True),
        sa.Column("crm_hash", sa.String(length=64), nullable=True),
        sa.Column("display_hash", sa.String(length=64), nullable=True),
        sa.Column("base", postgresql.JSONB(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("pending", postgresql.JSONB(), nullable=True),
        sa.Column("deleted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", "external_id"),
    )
    op.create_index("ix_links_meeting", "links", ["connection_id", "crm_meeting_id"], unique=False)
    op.create_index("ix_links_uid", "links", ["connection_id", "ical_uid"], unique=False)
    op.create_table(
        "pending_changes",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change", postgresql.JSONB(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("connection_id", "meeting_id"),
    )


def downgrade() -> None:
    op.drop_table("pending_changes")
    op.drop_index("ix_links_uid", table_name="links")
    op.drop_index("ix_links_meeting", table_name="links")
    op.drop_table("links")
    op.drop_table("forgotten_meetings")
    op.drop_table("cursors")
    op.drop_table("connections")
    op.drop_table("bad_items")
