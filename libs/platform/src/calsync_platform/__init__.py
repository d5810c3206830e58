"""calsync_platform."""
