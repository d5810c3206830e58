"""The migrations on real PostgreSQL: head is exactly ``tables.py``, and they go down and up."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from sync_store.migrate import alembic_config, upgrade
from sync_store.tables import metadata


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "version_table": "alembic_version_sync"}
    )
    return list(compare_metadata(context, metadata))


async def test_head_is_exactly_the_declared_tables(fresh_database: str) -> None:
    await asyncio.to_thread(upgrade, fresh_database)
    engine = create_async_engine(fresh_database)
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    await engine.dispose()
    assert differences == []


async def test_they_go_down_to_nothing_and_up_again(fresh_database: str) -> None:
    config = alembic_config(fresh_database)
    await asyncio.to_thread(upgrade, fresh_database)
    await asyncio.to_thread(command.downgrade, config, "base")
    await asyncio.to_thread(upgrade, fresh_database)
