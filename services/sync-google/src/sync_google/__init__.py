"""sync_google."""
