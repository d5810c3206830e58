"""sync_caldav."""
