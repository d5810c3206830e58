"""Consumer idempotency: record an event id in the same transaction as its effect.

Kafka delivers at least once, so a consumer sees redeliveries after a crash or a rebalance.
``claim`` inserts (consumer, event_id); on a duplicate it returns False and the handler skips the
effect. Because the row commits or rolls back with the effect, "applied" and "recorded" can never
disagree (the tracking-record pattern of the eventsourcing library).
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import MetaData
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from calsync_platform.outbox import define_inbox_table

inbox = define_inbox_table(MetaData())


async def claim(session: AsyncSession, consumer: str, event_id: UUID) -> bool:
    """True if this consumer has not applied ``event_id`` yet (and now owns applying it)."""
    statement = (
        insert(inbox)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
        .returning(inbox.c.event_id)
    )
    inserted = (await session.execute(statement)).scalar_one_or_none()
    return inserted is not None
