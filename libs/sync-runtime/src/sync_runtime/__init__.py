"""What every sync service runs around its provider adapter."""
