"""Alembic environment of crm-api: the ORM's metadata, Alembic's default version table."""

from __future__ import annotations

from calsync_platform.migrations import run_env
from crm_api.adapters.orm import Base

run_env(Base.metadata)
