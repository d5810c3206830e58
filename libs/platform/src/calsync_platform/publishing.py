"""Publishing a contract event from a service that has no outbox (the sync services and the
notifier, whose effects live outside our database): topic, key and correlation come from the
event itself, so no caller can key an event wrongly."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.publisher.usecase import DefaultPublisher

from calsync_contracts import Envelope, partition_key, topic_of
from calsync_contracts.keys import topic_of_type


def declare_publisher(broker: KafkaBroker, event_type: type[Envelope]) -> DefaultPublisher:
    """A publisher for one event type, declared so the AsyncAPI document shows what the service
    emits. Its topic comes from the contracts."""
    return broker.publisher(
        str(topic_of_type(event_type)),
        schema=event_type,
        title=f"{event_type.model_fields['type'].default}",
        description=event_type.__doc__,
    )


async def publish_event(target: KafkaBroker | DefaultPublisher, event: Envelope) -> None:
    """Publishes ``event`` keyed and routed as the contracts say."""
    options: dict[str, Any] = {
        "key": partition_key(event),
        "correlation_id": str(event.correlation_id),
        "headers": {"event_id": str(event.event_id), "event_type": event.type},
    }
    payload = event.model_dump(mode="json")
    if isinstance(target, KafkaBroker):
        await target.publish(payload, topic=str(topic_of(event)), **options)
    else:
        await target.publish(payload, **options)
