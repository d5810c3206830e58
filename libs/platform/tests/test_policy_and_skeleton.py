"""Unit tests without servers: the retry delays, the skeleton sync service's status mapping, and
its handler (and the dead-letter middleware) on FastStream's in-memory ``TestKafkaBroker``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker
from pydantic import BaseModel

from calsync_contracts import Origin, Provider, Topic, dead_letter_topic, partition_key, topic_of
from calsync_contracts.events import (
    ConnectionState,
    ConnectionStatusChanged,
    SyncReason,
    SyncRequest,
    SyncRequested,
)
from calsync_platform.kafka import PoisonMessage, RetryPolicy, make_broker, subscriber_options
from calsync_platform.settings import ServiceSettings
from calsync_platform.sync_skeleton import register_sync_request_handler, status_for

# --- RetryPolicy.delay ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "expected"), [(1, 0.2), (2, 0.4), (3, 0.8), (4, 1.6), (5, 3.2), (6, 5.0), (40, 5.0)]
)
def test_retry_delay_doubles_per_attempt_up_to_the_cap(attempt, expected):
    policy = RetryPolicy(max_attempts=5, base_delay_s=0.2, max_delay_s=5.0)
    assert policy.delay(attempt) == pytest.approx(expected)
    assert isinstance(policy.delay(attempt), float)


def test_retry_delay_defaults_and_zero_base():
    assert RetryPolicy(max_attempts=3, base_delay_s=1.0).delay(10) == 10.0  # default cap
    assert RetryPolicy(max_attempts=3, base_delay_s=0.0).delay(7) == 0.0


def test_retry_delays_of_the_settings_are_milliseconds():
    settings = ServiceSettings(kafka_retry_base_delay_ms=10, kafka_max_attempts=3)
    policy = RetryPolicy(settings.kafka_max_attempts, settings.kafka_retry_base_delay_ms / 1000)
    assert [policy.delay(a) for a in (1, 2)] == pytest.approx([0.01, 0.02])


# --- status_for -----------------------------------------------------------------------------------


def sync_request(provider: Provider) -> SyncRequested:
    return SyncRequested(
        tenant_id=uuid.uuid4(),
        origin=Origin.crm(),
        payload=SyncRequest(
            connection_id=uuid.uuid4(),
            provider=provider,
            user_id=uuid.uuid4(),
            reason=SyncReason.MANUAL_REFRESH,
        ),
    )


@pytest.mark.parametrize("provider", list(Provider))
def test_status_for_answers_a_request_with_pending_caused_by_it(provider):
    request = sync_request(provider)
    before = datetime.now(UTC)

    status = status_for(request, provider)

    assert isinstance(status, ConnectionStatusChanged)
    assert status.event_id != request.event_id
    assert (status.tenant_id, status.correlation_id) == (request.tenant_id, request.correlation_id)
    assert status.causation_id == request.event_id
    assert status.origin == Origin.from_connection(request.payload.connection_id, provider)
    payload = status.payload
    assert payload.connection_id == request.payload.connection_id
    assert payload.user_id == request.payload.user_id
    assert payload.provider is provider
    assert payload.state is ConnectionState.PENDING
    assert provider.value in payload.message
    assert before <= payload.observed_at <= datetime.now(UTC)
    assert topic_of(status) == Topic.CONNECTION_STATUS
    assert partition_key(status) == str(request.payload.connection_id).encode()


# --- the skeleton's handler on the in-memory broker -----------------------------------------------


def unit_broker(service: str) -> KafkaBroker:
    settings = ServiceSettings(
        kafka_idempotent_producer=False, kafka_max_attempts=3, kafka_retry_base_delay_ms=0
    )
    return make_broker(settings, service)


@pytest.fixture
def skeleton() -> tuple[KafkaBroker, list[tuple[ConnectionStatusChanged, KafkaMessage]]]:
    broker = unit_broker("sync-google")
    register_sync_request_handler(broker, Provider.GOOGLE, "sync-google")
    statuses: list[tuple[ConnectionStatusChanged, KafkaMessage]] = []

    @broker.subscriber(Topic.CONNECTION_STATUS)
    async def capture(status: ConnectionStatusChanged, message: KafkaMessage) -> None:
        statuses.append((status, message))

    return broker, statuses


async def publish_request(broker: KafkaBroker, request: SyncRequested) -> None:
    await broker.publish(
        request.model_dump(mode="json"),
        topic=str(Topic.SYNC_REQUESTS),
        key=partition_key(request),
        correlation_id=str(request.correlation_id),
    )


async def test_skeleton_ignores_requests_for_another_provider(skeleton):
    broker, statuses = skeleton
    own = sync_request(Provider.GOOGLE)
    async with TestKafkaBroker(broker) as test_broker:
        await publish_request(test_broker, sync_request(Provider.EXCHANGE))
        await publish_request(test_broker, sync_request(Provider.CALDAV))
        assert statuses == []
        await publish_request(test_broker, own)  # the same handler does answer its own provider
    assert [status.causation_id for status, _ in statuses] == [own.event_id]


async def test_skeleton_answers_its_provider_with_a_pending_status_caused_by_the_request(skeleton):
    broker, statuses = skeleton
    request = sync_request(Provider.GOOGLE)
    async with TestKafkaBroker(broker) as test_broker:
        await publish_request(test_broker, request)

    ((status, message),) = statuses
    assert status.causation_id == request.event_id
    assert status.correlation_id == request.correlation_id
    assert status.payload.state is ConnectionState.PENDING
    assert status.payload.provider is Provider.GOOGLE
    assert status.payload.connection_id == request.payload.connection_id
    assert message.raw_message.key == str(request.payload.connection_id).encode()
    assert message.headers["event_id"] == str(status.event_id)
    assert message.headers["event_type"] == "connection.status-changed"
    assert message.correlation_id == str(request.correlation_id)


# --- the dead-letter middleware on the in-memory broker -------------------------------------------


class Ping(BaseModel):
    n: int


@pytest.mark.parametrize(
    ("error", "attempts"), [(PoisonMessage("never valid"), 1), (RuntimeError("down"), 3)]
)
async def test_middleware_dead_letters_poison_at_once_and_failures_after_the_budget(
    error, attempts
):
    broker = unit_broker("unit-service")
    calls: list[int] = []
    dead: list[dict[str, Any]] = []

    @broker.subscriber("unit.topic", **subscriber_options("unit-service"))  # type: ignore[untyped-decorator]
    async def failing(ping: Ping) -> None:
        calls.append(ping.n)
        raise error

    @broker.subscriber(dead_letter_topic("unit.topic"))
    async def dead_letters(body: dict[str, Any], message: KafkaMessage) -> None:
        dead.append({"body": body, **message.headers})

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish({"n": 7}, topic="unit.topic", key=b"k")

    assert calls == [7] * attempts
    (letter,) = dead
    assert letter["body"] == {"n": 7}
    assert letter["x-dlq-attempts"] == str(attempts)
    assert letter["x-dlq-group"] == "unit-service"
    assert letter["x-dlq-source-topic"] == "unit.topic"
    assert letter["x-dlq-error"] == f"{type(error).__name__}: {error}"
