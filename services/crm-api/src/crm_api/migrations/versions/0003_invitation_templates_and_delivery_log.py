"""invitations: "synced meeting" email templates, the meeting's template choice and
SEQUENCE, the delivery log

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "email_templates",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("type", sa.String(length=32), server_default="synced_meeting", nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("language", sa.String(length=16), server_default="en", nullable=False),
        sa.Column(
            "areas",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_email_templates_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_templates")),
    )
    op.create_index(
        op.f("ix_email_templates_tenant_id"), "email_templates", ["tenant_id"], unique=False
    )
    op.create_table(
        "invitation_deliveries",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("meeting_id", sa.UUID(), nullable=False),
        sa.Column("meeting_version", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_invitation_deliveries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "meeting_id",
            "meeting_version",
            "method",
            "recipient",
            name=op.f("pk_invitation_deliveries"),
        ),
    )
    op.create_index(
        op.f("ix_invitation_deliveries_tenant_id"),
        "invitation_deliveries",
        ["tenant_id"],
        unique=False,
    )
    op.add_column(
        "meetings",
        sa.Column("invitation_sequence", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("meetings", sa.Column("invitation_template_id", sa.UUID(), nullable=True))
    op.add_column("meetings", sa.Column("invitation_subject", sa.String(length=500), nullable=True))
    op.add_column("meetings", sa.Column("invitation_body", sa.Text(), nullable=True))
    op.create_foreign_key(
        op.f("fk_meetings_invitation_template_id_email_templates"),
        "meetings",
        "email_templates",
        ["invitation_template_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:

    op.drop_constraint(
        op.f("fk_meetings_invitation_template_id_email_templates"), "meetings", type_="foreignkey"
    )
    op.drop_column("meetings", "invitation_body")
    op.drop_column("meetings", "invitation_subject")
    op.drop_column("meetings", "invitation_template_id")
    op.drop_column("meetings", "invitation_sequence")
    op.drop_index(op.f("ix_invitation_deliveries_tenant_id"), table_name="invitation_deliveries")
    op.drop_table("invitation_deliveries")
    op.drop_index(op.f("ix_email_templates_tenant_id"), table_name="email_templates")
    op.drop_table("email_templates")
