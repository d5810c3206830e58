"""sync-caldav's settings: the shared sync-service settings (its own database, the internal
token, crm-api's address, the SSRF allow-list, worker tuning), read once at start-up."""

from __future__ import annotations

from sync_runtime.settings import SyncServiceSettings


class Settings(SyncServiceSettings):
    """Nothing CalDAV-specific yet; a class of its own so deployments can be checked against it."""
