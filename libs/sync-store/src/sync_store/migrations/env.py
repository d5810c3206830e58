"""Alembic environment of a sync service (its own version table: a sync service may share
a database with crm-api, e.g. in tests)."""

from __future__ import annotations

from calsync_platform.migrations import run_env
from sync_store.tables import metadata

run_env(metadata, "alembic_version_sync")
