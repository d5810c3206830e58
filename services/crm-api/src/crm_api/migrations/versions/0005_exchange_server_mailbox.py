"""calendar connections: Exchange Server's mailbox and impersonation

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("calendar_connections", sa.Column("mailbox", sa.String(320), nullable=True))
    op.add_column(
        "calendar_connections",
        sa.Column("impersonate", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("calendar_connections", "impersonate")
    op.drop_column("calendar_connections", "mailbox")
