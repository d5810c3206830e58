"""The outbox relay: publishes committed outbox rows to Kafka, in order, at least once.

How it stays correct (docs/adr/0001-transactional-outbox.md):
- One active relay per database: the leader holds a PostgreSQL session advisory lock; other
  replicas wait. A single publisher in ``id`` order keeps each meeting's events in order (two
  writes to one meeting serialise on its row lock, so their outbox ids are in commit order).
- A batch is sent, every send acknowledged by all in-sync replicas (``acks=all``), and only then
  marked published. A crash in between republishes the batch: at-least-once, consumers dedupe
  on ``event_id`` (``calsync_platform.inbox``).
- Rows of transactions that commit out of id order are never skipped: the query is "every
  unpublished row", not "rows after a high-water mark".

How it stays fast: it LISTENs on ``calsync_outbox``; ``enqueue`` NOTIFYs, delivered at commit.
A short idle poll (``safety_poll_s``) is only a safety net for a lost notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry import trace

from calsync_platform.logs import get_logger
from calsync_platform.outbox import NOTIFY_CHANNEL
from calsync_platform.telemetry import extract_trace_context, inject_trace_headers

log = get_logger(__name__)
tracer = trace.get_tracer(__name__)

RELAY_LOCK_KEY = 0x0CA15_0B0  # advisory lock id: "calsync outbox"; the table is `outbox`

_PENDING = """
SELECT id, event_id, topic, partition_key, event_type, payload, headers
FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1
"""
_MARK = "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])"
_SWEEP = """
DELETE FROM outbox WHERE id IN (
  SELECT id FROM outbox WHERE published_at < now() - $1::interval ORDER BY id LIMIT 1000)
"""


@dataclass(frozen=True, slots=True)
class RelayConfig:
    dsn: str
    """A plain ``postgresql://`` DSN (asyncpg), not the SQLAlchemy URL."""
    bootstrap_servers: str
    idempotent_producer: bool = True
    batch_size: int = 500
    safety_poll_s: float = 1.0
    leader_retry_s: float = 2.0
    retention: timedelta = timedelta(days=1)
    """Published rows older than this are deleted (in bounded batches)."""


def plain_dsn(sqlalchemy_url: str) -> str:
    """``postgresql+asyncpg://…`` → ``postgresql://…`` for a raw asyncpg connection."""
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def kafka_headers(row: asyncpg.Record) -> list[tuple[str, bytes]]:
    headers: dict[str, str] = dict(row["headers"] or {})
    payload: dict[str, Any] = row["payload"]
    headers.update(
        {
            "event_id": str(row["event_id"]),
            "event_type": row["event_type"],
            "correlation_id": str(payload.get("correlation_id", row["event_id"])),
            "content-type": "application/json",
        }
    )
    return [(key, value.encode()) for key, value in headers.items()]


class OutboxRelay:
    def __init__(self, config: RelayConfig) -> None:
        self._config = config
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self.published = 0

    async def run(self) -> None:
        """Runs until ``stop()``: wait for leadership, then relay; re-elect on connection loss."""
        while not self._stopped.is_set():
            try:
                await self._lead_and_relay()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError) as error:
                # InterfaceError: asyncpg's "connection is closed" after the server dropped the
                # session; KafkaError: Kafka unreachable or a send failed. Both are outages to
                # outlive (unmarked rows are republished), not reasons for the relay to die.
                log.warning("outbox relay lost its database or Kafka connection", error=str(error))
                await self._sleep(self._config.leader_retry_s)

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()

    async def _lead_and_relay(self) -> None:
        connection: asyncpg.Connection = await asyncpg.connect(self._config.dsn)
        try:
            await connection.set_type_codec(
                "jsonb", encoder=_json_dumps, decoder=_json_loads, schema="pg_catalog"
            )
            while not await connection.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY):
                if await self._sleep(self._config.leader_retry_s):
                    return
            log.info("outbox relay is the leader")
            await connection.add_listener(NOTIFY_CHANNEL, self._on_notify)
            producer = self._producer()
            try:
                await producer.start()  # inside the try: a failed start is stopped (closed) too
                await self._relay_loop(connection, producer)
            finally:
                await producer.stop()
        finally:
            with contextlib.suppress(Exception):
                await connection.close()

    def _producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._config.bootstrap_servers,
            acks="all",
            enable_idempotence=self._config.idempotent_producer,
            linger_ms=1,
            request_timeout_ms=40_000,
            client_id="crm-api-outbox-relay",
        )

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _relay_loop(self, connection: asyncpg.Connection, producer: AIOKafkaProducer) -> None:
        sweeps = 0
        while not self._stopped.is_set():
            self._wake.clear()
            published = await self.publish_pending(connection, producer)
            if published == self._config.batch_size:
                continue  # more waiting: no pause
            sweeps += 1
            if sweeps % 600 == 0:
                await self.sweep(connection)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._config.safety_poll_s)

    async def sweep(self, connection: asyncpg.Connection) -> int:
        """Deletes up to 1000 rows published longer than ``retention`` ago; returns how many."""
        status: str = await connection.execute(_SWEEP, self._config.retention)
        return int(status.split()[-1])

    async def publish_pending(
        self, connection: asyncpg.Connection, producer: AIOKafkaProducer
    ) -> int:
        """Publishes one batch; returns how many rows it published."""
        rows = await connection.fetch(_PENDING, self._config.batch_size)
        if not rows:
            return 0
        sends = [await self._send(producer, row) for row in rows]
        await asyncio.gather(*sends)  # every record acknowledged (acks=all) before marking
        await connection.execute(_MARK, [row["id"] for row in rows])
        self.published += len(rows)
        return len(rows)

    async def _send(self, producer: AIOKafkaProducer, row: asyncpg.Record) -> asyncio.Future[Any]:
        # Continue the trace of the request that wrote the row, so the consumer's span joins it.
        parent = extract_trace_context(row["headers"] or {})
        with tracer.start_as_current_span(
            f"{row['topic']} publish", context=parent, kind=trace.SpanKind.PRODUCER
        ):
            headers = {**dict(row["headers"] or {}), **inject_trace_headers()}
            future: asyncio.Future[Any] = await producer.send(
                row["topic"],
                value=_json_dumps(row["payload"]).encode(),
                key=row["partition_key"],
                headers=kafka_headers(_with_headers(row, headers)),
            )
        return future

    async def _sleep(self, seconds: float) -> bool:
        """Sleeps unless stopped first; True when stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)
        return self._stopped.is_set()


def _with_headers(row: asyncpg.Record, headers: dict[str, str]) -> dict[str, Any]:
    return {**dict(row), "headers": headers}


def _json_dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _json_loads(value: str) -> Any:
    return json.loads(value)
