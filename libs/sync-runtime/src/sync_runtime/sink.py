"""``sync_core.ports.ChangeSink`` on Kafka: each provider change becomes a
``ProviderChangeObserved`` event whose origin is the connection (loops are cut by origin and
content hash on the way back)."""

from __future__ import annotations

from uuid import UUID

from faststream.kafka import KafkaBroker

from calsync_contracts import Origin
from calsync_contracts.events import ProviderChange, ProviderChangeObserved
from calsync_platform.publishing import publish_event


class KafkaChangeSink:
    def __init__(self, broker: KafkaBroker, tenant_id: UUID, correlation_id: UUID) -> None:
        self._broker = broker
        self._tenant_id = tenant_id
        self._correlation_id = correlation_id
        self.published = 0

    async def publish(self, change: ProviderChange) -> None:
        event = ProviderChangeObserved(
            tenant_id=self._tenant_id,
            correlation_id=self._correlation_id,
            origin=Origin.from_connection(change.connection_id, change.provider),
            payload=change,
        )
        await publish_event(self._broker, event)
        self.published += 1
