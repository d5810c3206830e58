"""Alembic, the same way for every service that owns a database: the body of each ``env.py``
(online migrations on the async engine at ``sqlalchemy.url``) and ``upgrade(url)``.

Each service keeps its own migration history in a version table of its own, so services may
share one database (the local stack, tests) without clashing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

DEFAULT_VERSION_TABLE = "alembic_version"


def alembic_config(script_location: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(script_location: Path, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(script_location, database_url), revision)


def run_env(metadata: MetaData, version_table: str = DEFAULT_VERSION_TABLE) -> None:
    """What an ``env.py`` does: migrate the database at ``sqlalchemy.url`` to the revision
    asked for, comparing column types when autogenerating."""

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            compare_type=True,
            version_table=version_table,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def online() -> None:
        engine = create_async_engine(context.config.get_main_option("sqlalchemy.url") or "")
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
        await engine.dispose()

    asyncio.run(online())
