"""A sync service's Kafka subscribers. They only record (a pending change, a sync request, a
connection's config) and nudge the worker; the provider is written by the worker's pass, so a
provider outage never blocks a partition or sends a CRM change to the dead-letter topic."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from faststream.kafka import KafkaBroker

from calsync_contracts import Provider, Topic
from calsync_contracts.events import (
    ConnectionAction,
    ConnectionChanged,
    MeetingEvent,
    SyncRequested,
)
from calsync_platform.kafka import subscriber_options
from calsync_platform.logs import get_logger
from sync_runtime.changes import pending_row
from sync_runtime.crm_client import CrmClient
from sync_store.registry import Registry

log = get_logger(__name__)


def register_subscribers(
    broker: KafkaBroker,
    provider: Provider,
    group: str,
    registry: Registry,
    crm: CrmClient,
    nudge: Callable[[], None],
) -> None:
    options = subscriber_options(group)

    @broker.subscriber(Topic.MEETING_EVENTS, **options)  # type: ignore[untyped-decorator]
    async def on_meeting_event(event: MeetingEvent) -> None:
        """Queues the meeting for the owner's connection and for any connection still linked
        to it (a meeting re-booked to another user leaves the previous owner's calendar)."""
        meeting = event.payload.meeting
        targets = set(await registry.linked_connections(meeting.id))
        owner_connection = await registry.connection_of_user(event.tenant_id, meeting.owner_user_id)
        if owner_connection is not None:
            targets.add(owner_connection)
        for connection_id in targets:
            await registry.enqueue(connection_id, meeting.id, meeting.version, pending_row(event))
        if targets:
            nudge()

    @broker.subscriber(Topic.SYNC_REQUESTS, **options)  # type: ignore[untyped-decorator]
    async def on_sync_requested(request: SyncRequested) -> None:
        if request.payload.provider is not provider:
            return
        connection_id = request.payload.connection_id
        if not await registry.request_sync(connection_id, request.payload.full):
            await _adopt_unknown(registry, crm, request.tenant_id, connection_id)
        nudge()

    @broker.subscriber(Topic.CONNECTION_CHANGES, **options)  # type: ignore[untyped-decorator]
    async def on_connection_changed(event: ConnectionChanged) -> None:
        config = event.payload.config
        if config.provider is not provider:
            return
        removed = event.payload.action is ConnectionAction.REMOVED
        await registry.apply_config(event.tenant_id, config, removed)
        log.info("connection config applied", connection_id=str(config.connection_id))
        nudge()


async def _adopt_unknown(
    registry: Registry, crm: CrmClient, tenant_id: UUID, connection_id: UUID
) -> None:
    """A sync request for a connection this service never heard of (its config event predates
    this service's database): read the config from crm-api instead of ignoring the user."""
    config = await crm.connection_config(connection_id)
    if config is not None:
        await registry.apply_config(tenant_id, config, removed=False)
