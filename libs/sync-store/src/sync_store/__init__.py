"""PostgreSQL state of a sync service."""
