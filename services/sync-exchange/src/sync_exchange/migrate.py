"""``python -m sync_exchange.migrate``: upgrade sync-exchange's own database (DATABASE_URL) to
the newest schema. Run once per release before the service rolls out."""

from __future__ import annotations

from sync_exchange.settings import Settings
from sync_store.migrate import upgrade

if __name__ == "__main__":
    upgrade(Settings().database_url)  # from the environment
    print("sync-exchange's database is at the newest schema")
