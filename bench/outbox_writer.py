"""Outbox writes for the latency measurement: each is one transaction inserting the outbox row
of a real ``meeting.created`` event and issuing ``NOTIFY``, exactly what
``calsync_platform.outbox.enqueue`` does inside a meeting write. The meeting row itself is left
out on purpose: the figure is the relay's commit → Kafka latency, and the Python cost of the
full write path (measured separately as API writes/s) would otherwise saturate this 2-core
machine at 200 writes/s and be counted as relay latency."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from calsync_contracts import Origin
from calsync_contracts.events import MeetingChange, MeetingCreated
from calsync_contracts.meeting import MeetingSnapshot, TimedSpan
from calsync_platform.outbox import NOTIFY_CHANNEL, outbox_row

INSERT = """
INSERT INTO outbox (event_id, topic, partition_key, event_type, payload, headers)
VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)
"""


def _event(i: int) -> MeetingCreated:
    start = datetime(2027, 3, 1, 9, tzinfo=UTC)
    tenant = uuid.uuid4()
    meeting = MeetingSnapshot(
        id=uuid.uuid4(),
        tenant_id=tenant,
        ical_uid=f"bench-{i}@calsync",
        version=1,
        owner_user_id=uuid.uuid4(),
        subject=f"Latency {i}",
        time=TimedSpan(start=start, end=start + timedelta(minutes=30), timezone="UTC"),
    )
    return MeetingCreated(
        tenant_id=tenant, origin=Origin.crm(), payload=MeetingChange(meeting=meeting)
    )


@contextlib.asynccontextmanager
async def direct_writer(dsn: str) -> AsyncIterator[Callable[[int], Awaitable[str]]]:
    pool = await asyncpg.create_pool(dsn, min_size=4, max_size=16)

    async def write_one(i: int) -> str:
        """Commits one outbox row; returns its key (the meeting id) once the commit returned."""
        event = _event(i)
        row = outbox_row(event)
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute(
                INSERT,
                row["event_id"],
                row["topic"],
                row["partition_key"],
                row["event_type"],
                json.dumps(row["payload"]),
                json.dumps(row["headers"]),
            )
            await connection.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        return row["partition_key"].decode()

    try:
        yield write_one
    finally:
        await pool.close()
