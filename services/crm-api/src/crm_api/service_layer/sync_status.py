"""Sync status of users' calendar connections: what the CRM's sync indicator shows, the refresh
that asks the sync service to sync now, and applying the statuses the sync services report."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from calsync_contracts import Origin, Provider
from calsync_contracts.events import (
    ConnectionStatusChanged,
    SyncReason,
    SyncRequest,
    SyncRequested,
)
from calsync_platform.outbox import enqueue, outbox
from crm_api.adapters.orm import CalendarConnection, User
from crm_api.auth import Caller
from crm_api.errors import Conflict, Forbidden, NotFound

NOT_CONFIGURED = "not_configured"
REFRESH_COALESCE = timedelta(seconds=2)
"""A page load and a refresh click a moment apart ask for one sync, not two — as long as the
first request still waits in the outbox. Once it was published, a new request is sent: the
sync service coalesces requests that arrive while a pass runs, and a change made after the
last pass started must not wait for the next poll."""


@dataclass(frozen=True, slots=True)
class SyncStatus:
    user_id: uuid.UUID
    state: str
    message: str = ""
    provider: str | None = None
    last_success_at: datetime | None = None


async def _user_exists(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    found = await session.scalar(
        select(User.id).where(User.tenant_id == tenant_id, User.id == user_id)
    )
    if found is None:
        raise NotFound("user")


async def _connection(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> CalendarConnection | None:
    return await session.scalar(
        select(CalendarConnection).where(
            CalendarConnection.tenant_id == tenant_id, CalendarConnection.user_id == user_id
        )
    )


def _status(user_id: uuid.UUID, connection: CalendarConnection | None) -> SyncStatus:
    if connection is None:
        return SyncStatus(user_id, NOT_CONFIGURED, "No calendar is connected.")
    return SyncStatus(
        user_id,
        connection.state,
        connection.status_message,
        connection.provider,
        connection.last_success_at,
    )


async def status_of(session: AsyncSession, caller: Caller, user_id: uuid.UUID) -> SyncStatus:
    await _user_exists(session, caller.tenant_id, user_id)
    return _status(user_id, await _connection(session, caller.tenant_id, user_id))


async def statuses_of(
    session: AsyncSession, caller: Caller, user_ids: list[uuid.UUID]
) -> list[SyncStatus]:
    return [await status_of(session, caller, user_id) for user_id in user_ids]


async def request_refresh(
    session: AsyncSession, caller: Caller, user_id: uuid.UUID, reason: SyncReason
) -> SyncStatus:
    """Enqueues ``sync.requested`` for the user's connection (in the caller's transaction)."""
    if user_id != caller.user_id and not caller.is_admin:
        raise Forbidden("only administrators can refresh another user's calendar")
    await _user_exists(session, caller.tenant_id, user_id)
    connection = await _connection(session, caller.tenant_id, user_id)
    if connection is None:
        raise Conflict("no calendar connected: connect one before synchronising")
    if not await _recently_requested(session, connection.id):
        await enqueue(
            session,
            SyncRequested(
                tenant_id=caller.tenant_id,
                origin=Origin.crm(),
                payload=SyncRequest(
                    connection_id=connection.id,
                    provider=Provider(connection.provider),
                    user_id=user_id,
                    reason=reason,
                ),
            ),
        )
    return _status(user_id, connection)


async def _recently_requested(session: AsyncSession, connection_id: uuid.UUID) -> bool:
    since = datetime.now(UTC) - REFRESH_COALESCE
    found = await session.scalar(
        select(outbox.c.id)
        .where(
            outbox.c.event_type == "sync.requested",
            outbox.c.partition_key == str(connection_id).encode(),
            outbox.c.created_at > since,
            outbox.c.published_at.is_(None),
        )
        .limit(1)
    )
    return found is not None


async def apply_connection_status(session: AsyncSession, event: ConnectionStatusChanged) -> bool:
    """Stores a reported status unless a newer one is already stored (statuses can arrive out
    of order after retries); returns whether anything changed."""
    status = event.payload
    connection = await session.scalar(
        select(CalendarConnection)
        .where(
            CalendarConnection.tenant_id == event.tenant_id,
            CalendarConnection.id == status.connection_id,
        )
        .with_for_update()
    )
    if connection is None:
        return False  # removed meanwhile: nothing to show
    observed = status.observed_at
    if connection.status_observed_at is not None and observed <= connection.status_observed_at:
        return False
    connection.state = status.state.value
    connection.status_message = status.message
    connection.status_observed_at = observed
    if status.last_success_at is not None:
        connection.last_success_at = status.last_success_at
    return True
