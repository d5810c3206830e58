"""``python -m crm_api.migrate``: upgrade the database at DATABASE_URL to the newest schema."""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from calsync_platform import migrations

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    return migrations.alembic_config(MIGRATIONS, database_url)


def upgrade(database_url: str, revision: str = "head") -> None:
    migrations.upgrade(MIGRATIONS, database_url, revision)


def main(argv: list[str]) -> int:
    from crm_api.settings import Settings

    settings = Settings()  # from the environment
    if len(argv) > 2 and argv[1] == "revision":  # developer use: autogenerate a new revision
        command.revision(alembic_config(settings.database_url), argv[2], autogenerate=True)
        return 0
    upgrade(settings.database_url)
    print("database is at the newest schema")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
