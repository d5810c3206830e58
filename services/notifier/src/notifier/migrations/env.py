"""Alembic environment of the notifier (its own version table: it may share a database)."""

from __future__ import annotations

from calsync_platform.migrations import run_env
from notifier.tables import metadata

run_env(metadata, "alembic_version_notifier")
