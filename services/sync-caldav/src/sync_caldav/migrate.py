"""``python -m sync_caldav.migrate``: upgrade sync-caldav's own database (DATABASE_URL)."""

from __future__ import annotations

import os

from sync_store.migrate import upgrade

if __name__ == "__main__":
    upgrade(os.environ["DATABASE_URL"])
    print("sync-caldav database is at the newest schema")
