"""What a sync service does before its provider engine exists (issue 3 brings the engine):
it answers every sync request for its provider with a ``pending`` connection status saying the
engine is not available yet. The CRM's sync indicator then tells the user the truth instead of
spinning, and the request → status round trip through Kafka is exercised end to end."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker

from calsync_contracts import Origin, Provider, Topic
from calsync_contracts.events import (
    ConnectionState,
    ConnectionStatus,
    ConnectionStatusChanged,
    SyncRequested,
)
from calsync_platform.kafka import make_broker, subscriber_options
from calsync_platform.logs import get_logger
from calsync_platform.publishing import declare_publisher, publish_event
from calsync_platform.service_app import build_service_app
from calsync_platform.settings import ServiceSettings

log = get_logger(__name__)


def status_for(request: SyncRequested, provider: Provider) -> ConnectionStatusChanged:
    return ConnectionStatusChanged(
        origin=Origin.from_connection(request.payload.connection_id, provider),
        **request.caused(),
        payload=ConnectionStatus(
            connection_id=request.payload.connection_id,
            provider=provider,
            user_id=request.payload.user_id,
            state=ConnectionState.PENDING,
            message=f"{provider.value} synchronisation is not available in this deployment yet",
            observed_at=datetime.now(UTC),
        ),
    )


def register_sync_request_handler(broker: KafkaBroker, provider: Provider, group: str) -> None:
    status_publisher = declare_publisher(broker, ConnectionStatusChanged)

    @broker.subscriber(Topic.SYNC_REQUESTS, **subscriber_options(group))  # type: ignore[untyped-decorator]
    async def on_sync_requested(request: SyncRequested) -> None:
        if request.payload.provider is not provider:
            return
        log.info("sync requested", connection_id=str(request.payload.connection_id))
        await publish_event(status_publisher, status_for(request, provider))


def build_skeleton_sync_service(
    settings: ServiceSettings, provider: Provider, service_name: str
) -> AsgiFastStream:
    broker = make_broker(settings, service_name)
    register_sync_request_handler(broker, provider, service_name)
    return build_service_app(
        broker, service_name, f"Two-way sync with {provider.value} calendars (skeleton)."
    )
