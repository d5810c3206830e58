"""sync_exchange."""
