"""crm-api's Kafka subscribers. They only translate: one transaction per message, the work is in
the service layer. Delivery policy: calsync_platform.kafka (commit after effect, retries, DLQ)."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from calsync_contracts import Topic
from calsync_contracts.events import (
    ConnectionStatusChanged,
    InvitationEvent,
    InvitationFailed,
    InvitationSent,
    ProviderChangeObserved,
)
from calsync_platform.kafka import PoisonMessage, subscriber_options
from calsync_platform.logs import get_logger
from crm_api.adapters.database import SessionFactory
from crm_api.service_layer.deliveries import record_outcome
from crm_api.service_layer.inbound import UnknownConnection, apply_provider_change
from crm_api.service_layer.sync_status import apply_connection_status

SERVICE_NAME = "crm-api"
log = get_logger(__name__)


def register_consumers(broker: KafkaBroker, sessions: SessionFactory) -> None:
    options = subscriber_options(SERVICE_NAME)

    @broker.subscriber(Topic.PROVIDER_CHANGES, **options)  # type: ignore[untyped-decorator]
    async def on_provider_change(event: ProviderChangeObserved) -> None:
        """Applies a provider change to the CRM (docs/conflict-rules.md)."""
        try:
            async with sessions() as session, session.begin():
                applied = await apply_provider_change(session, event)
        except UnknownConnection as error:
            raise PoisonMessage(str(error)) from error
        log.info(
            "provider change applied",
            action=applied.action.value,
            meeting_id=str(applied.meeting_id),
            external_id=event.payload.external_id,
        )

    @broker.subscriber(Topic.CONNECTION_STATUS, **options)  # type: ignore[untyped-decorator]
    async def on_connection_status(event: ConnectionStatusChanged) -> None:
        """Keeps the sync indicator true: the newest observed status wins."""
        async with sessions() as session, session.begin():
            await apply_connection_status(session, event)

    @broker.subscriber(Topic.INVITATIONS, **options)  # type: ignore[untyped-decorator]
    async def on_invitation_outcome(event: InvitationEvent) -> None:
        """The notifier's reports become the delivery log (requests are our own: skipped)."""
        if isinstance(event, InvitationSent | InvitationFailed):
            async with sessions() as session, session.begin():
                await record_outcome(session, event)
