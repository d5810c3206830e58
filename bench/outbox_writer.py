"""Meeting writes through crm-api's own service layer (meeting row + revision + outbox row in one
transaction), for measuring the outbox latency without HTTP in the way."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

from calsync_contracts import Origin
from calsync_contracts.meeting import TimedSpan
from crm_api.adapters.database import make_engine, make_session_factory
from crm_api.adapters.orm import Tenant, User
from crm_api.service_layer.meetings import EventContext, MeetingDraft, create_meeting


@contextlib.asynccontextmanager
async def direct_writer(database_url: str) -> AsyncIterator[Callable[[int], Awaitable[str]]]:
    engine = make_engine(database_url, pool_size=20)
    sessions = make_session_factory(engine)
    tenant_id, user_id = uuid.uuid4(), uuid.uuid4()
    async with sessions() as session, session.begin():
        session.add(Tenant(id=tenant_id, name="bench"))
        await session.flush()
        session.add(User(id=user_id, tenant_id=tenant_id, name="Bench", email="bench@bench.test"))
    context = EventContext(Origin.crm(), user_id)
    start = datetime(2027, 3, 1, 9, tzinfo=UTC)

    async def write_one(i: int) -> str:
        """Commits one meeting; returns its id (its events' partition key)."""
        draft = MeetingDraft(
            owner_user_id=user_id,
            subject=f"Latency {i}",
            time=TimedSpan(start=start, end=start + timedelta(minutes=30), timezone="UTC"),
        )
        async with sessions() as session, session.begin():
            snapshot = await create_meeting(session, tenant_id, draft, context)
        return str(snapshot.id)  # the record's key on Kafka

    try:
        yield write_one
    finally:
        await engine.dispose()
