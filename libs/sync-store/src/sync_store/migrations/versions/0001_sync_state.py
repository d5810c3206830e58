"""Sync service state: connections, links (status table), cursors, bad items, pending changes.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

from sync_store.tables import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The first revision creates the tables exactly as declared; later ones alter explicitly.
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
