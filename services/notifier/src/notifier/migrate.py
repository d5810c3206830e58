"""``python -m notifier.migrate``: upgrade the notifier's database (DATABASE_URL) to the newest
schema. Run once per release before the service rolls out."""

from __future__ import annotations

from pathlib import Path

from calsync_platform import migrations
from notifier.settings import NotifierSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def upgrade(database_url: str, revision: str = "head") -> None:
    migrations.upgrade(MIGRATIONS, database_url, revision)


if __name__ == "__main__":
    upgrade(NotifierSettings().database_url)  # from the environment
    print("the notifier's database is at the newest schema")
