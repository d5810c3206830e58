"""Fixtures of the platform library's tests.

The servers themselves (``local_postgres``, ``local_kafka``) are session fixtures of the root
``conftest.py``; this file only adds what these tests share: a fresh database per test module
with the outbox and inbox tables, and a reader of what gets appended to Kafka topics.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
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
from calsync_platform.kafka import REQUEST_TIMEOUT_MS
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


@dataclass(slots=True)
class KafkaTail:
    """Every record appended to ``topics`` after ``open()``, by manual assignment: no consumer
    group, so no ~5 s group join on Tansu."""

    bootstrap_servers: str
    topics: tuple[str, ...]
    records: list[ConsumerRecord[bytes, bytes]] = field(default_factory=list)
    _consumer: AIOKafkaConsumer | None = None

    async def open(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,  # a functional latency check must not wait on the long poll
            request_timeout_ms=REQUEST_TIMEOUT_MS,
        )
        await consumer.start()
        self._consumer = consumer
        partitions: list[TopicPartition] = []
        for topic in self.topics:
            ids = consumer.partitions_for_topic(topic)
            if not ids:
                await consumer.topics()  # refresh metadata once
                ids = consumer.partitions_for_topic(topic)
            assert ids, f"topic {topic} does not exist"
            partitions += [TopicPartition(topic, p) for p in sorted(ids)]
        consumer.assign(partitions)
        # Resolve the end offsets now (seek_to_end is lazy and could skip early records). Tansu
        # 0.6 sometimes answers a few records short of the real end (seen here), so a tail may
        # also see some older records: callers pick theirs by event id, key or header.
        for partition, offset in (await consumer.end_offsets(partitions)).items():
            consumer.seek(partition, offset)

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def poll(self, timeout_s: float = 0.1) -> list[ConsumerRecord[bytes, bytes]]:
        assert self._consumer is not None, "open() first"
        batches = await self._consumer.getmany(timeout_ms=int(timeout_s * 1000))
        new = [record for batch in batches.values() for record in batch]
        self.records += new
        return new

    async def wait_until(
        self,
        done: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
        timeout_s: float = 15.0,
        what: str = "records",
    ) -> list[ConsumerRecord[bytes, bytes]]:
        deadline = time.monotonic() + timeout_s
        while not done(self.records):
            if time.monotonic() > deadline:
                pytest.fail(
                    f"timed out after {timeout_s} s waiting for {what}; got {self.summary()}"
                )
            await self.poll(0.05)
        return self.records

    async def wait_for_events(
        self, event_ids: Iterable[uuid.UUID | str], timeout_s: float = 15.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Waits until a record of every event id arrived; returns the records of these ids."""
        wanted = {str(event_id) for event_id in event_ids}
        await self.wait_until(
            lambda records: wanted <= {header(r, "event_id") for r in records},
            timeout_s,
            f"{len(wanted)} events",
        )
        return [r for r in self.records if header(r, "event_id") in wanted]

    async def drain(self, quiet_s: float = 0.3) -> None:
        """Reads until nothing more arrives for ``quiet_s`` (to see duplicates or strays)."""
        while await self.poll(quiet_s):
            pass

    def summary(self) -> list[tuple[str, int, int, str | None]]:
        return [(r.topic, r.partition, r.offset, header(r, "event_id")) for r in self.records]


def header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in record.headers:
        if key == name:
            return bytes(value).decode()
    return None


@pytest.fixture
async def kafka_tail(local_kafka: LocalKafka) -> AsyncIterator[Callable[..., Awaitable[KafkaTail]]]:
    """``await kafka_tail(topic, ...)`` opens a tail positioned at the topics' current ends."""
    tails: list[KafkaTail] = []

    async def open_tail(*topics: str) -> KafkaTail:
        tail = KafkaTail(local_kafka.bootstrap_servers, tuple(topics))
        tails.append(tail)
        await tail.open()
        return tail

    yield open_tail
    await asyncio.gather(*(tail.close() for tail in tails))


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
