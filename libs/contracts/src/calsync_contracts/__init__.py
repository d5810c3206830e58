"""calsync_contracts."""
