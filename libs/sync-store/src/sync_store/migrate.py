"""Upgrade a sync service's database to the newest schema (``upgrade(url)``)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from calsync_platform import migrations

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    return migrations.alembic_config(MIGRATIONS, database_url)


def upgrade(database_url: str, revision: str = "head") -> None:
    migrations.upgrade(MIGRATIONS, database_url, revision)
