"""Publishing a contract event from a service that has no outbox (the sync services and the
notifier, whose effects live outside our database): topic, key and correlation come from the
event itself, so no caller can key an event wrongly."""

from __future__ import annotations

from calsync_contracts import Envelope, partition_key, topic_of
from faststream.kafka import KafkaBroker


async def publish_event(broker: KafkaBroker, event: Envelope) -> None:
    await broker.publish(
        event.model_dump(mode="json"),
        topic=str(topic_of(event)),
        key=partition_key(event),
        correlation_id=str(event.correlation_id),
        headers={"event_id": str(event.event_id), "event_type": event.type},
    )
