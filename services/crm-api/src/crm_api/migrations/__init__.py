"""Alembic migrations of crm-api's database (run with ``python -m crm_api.migrate``)."""
