"""Fixtures of the platform library's tests.

The servers themselves (``local_postgres``, ``local_kafka``) are session fixtures of the root
``conftest.py``; this file only adds what these tests share: a fresh database per test module
with the outbox and inbox tables, and a reader of what gets appended to Kafka topics.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from calsync_contracts import dead_letter_topic
from calsync_contracts.topics import TopicSpec
from calsync_localinfra import LocalKafka, LocalPostgres
from calsync_platform.outbox import define_inbox_table, define_outbox_table

# --- PostgreSQL: one fresh database per test module -----------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxDatabase:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    dsn: str
    """Plain ``postgresql://`` DSN for asyncpg (what ``RelayConfig.dsn`` wants)."""


@pytest.fixture(scope="module")
async def outbox_db(local_postgres: LocalPostgres) -> AsyncIterator[OutboxDatabase]:
    """A database of its own for the calling test module, holding the outbox and inbox tables
    created from SQLAlchemy metadata (the services' migrations create them in production).
    Its own database also means its own relay advisory lock (advisory locks are per database)."""
    database = local_postgres.create_database(f"platform_{uuid.uuid4().hex[:16]}")
    engine = create_async_engine(database.async_url)
    try:
        metadata = MetaData()
        define_outbox_table(metadata)
        define_inbox_table(metadata)
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        yield OutboxDatabase(
            engine, async_sessionmaker(engine, expire_on_commit=False), database.dsn
        )
    finally:
        await engine.dispose()
        local_postgres.drop_database(database.name)


# --- Kafka: reading what gets appended, without a consumer group ----------------------------------


@pytest.fixture(scope="module")
def fresh_topic(local_kafka: LocalKafka) -> Callable[..., Awaitable[str]]:
    """``await fresh_topic(prefix, partitions)`` creates a uniquely named topic and its dead-letter
    topic, so tests that consume never see each other's records."""

    async def create(prefix: str, partitions: int = 1) -> str:
        name = f"platform-test.{prefix}.{uuid.uuid4().hex[:10]}"
        specs = [TopicSpec(name, partitions, "test"), TopicSpec(dead_letter_topic(name), 1, "")]
        assert await local_kafka.create_topics(specs) == [name, dead_letter_topic(name)]
        return name

    return create
