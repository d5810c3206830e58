"""``python -m sync_caldav.migrate``: upgrade sync-caldav's own database (DATABASE_URL) to the
newest schema. Run once per release before the service rolls out."""

from __future__ import annotations

from sync_caldav.settings import Settings
from sync_store.migrate import upgrade

if __name__ == "__main__":
    upgrade(Settings().database_url)  # from the environment
    print("sync-caldav's database is at the newest schema")
