"""Use cases, each one transaction (unit of work)."""
