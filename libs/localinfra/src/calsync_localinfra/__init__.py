"""calsync_localinfra."""
