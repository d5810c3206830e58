"""Transactional outbox: an event row is written in the same transaction as the state change it
describes, so an event exists if and only if the change committed (no phantom event for a
rolled-back write, no lost event for a committed one).

``enqueue`` also issues ``NOTIFY calsync_outbox``; PostgreSQL delivers a notification only when
the transaction commits (docs: SQL NOTIFY, "if a NOTIFY is executed inside a transaction, the
notify events are not delivered until and unless the transaction is committed"). The relay
(``calsync_platform.relay``) wakes on it, so publishing needs no multi-second polling.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from calsync_contracts import Envelope, partition_key, topic_of
from calsync_platform.telemetry import inject_trace_headers

NOTIFY_CHANNEL = "calsync_outbox"
OUTBOX_TABLE = "outbox"
INBOX_TABLE = "inbox"


def define_outbox_table(metadata: MetaData) -> Table:
    """Rows in ``id`` order are the publishing order; ``published_at`` NULL means pending."""
    return Table(
        OUTBOX_TABLE,
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("topic", Text, nullable=False),
        Column("partition_key", LargeBinary, nullable=False),
        Column("event_type", Text, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=text("published_at IS NULL"),
        ),
    )


def define_inbox_table(metadata: MetaData) -> Table:
    """One row per (consumer, event) already applied: the idempotency record of a consumer."""
    return Table(
        INBOX_TABLE,
        metadata,
        Column("consumer", Text, nullable=False),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
    )


_metadata = MetaData()
outbox = define_outbox_table(_metadata)
"""A table object for statements; the owning service's migrations create the real table."""


def outbox_row(event: Envelope, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The outbox row for ``event``: topic and key come from the contracts, never the caller."""
    return {
        "event_id": event.event_id,
        "topic": str(topic_of(event)),
        "partition_key": partition_key(event),
        "event_type": event.type,
        "payload": event.model_dump(mode="json"),
        "headers": {**inject_trace_headers(), **(headers or {})},
    }


async def enqueue(
    session: AsyncSession, event: Envelope, headers: dict[str, str] | None = None
) -> None:
    """Adds ``event`` to the outbox inside the caller's transaction (the caller commits)."""
    await session.execute(insert(outbox).values(**outbox_row(event, headers)))
    await session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
