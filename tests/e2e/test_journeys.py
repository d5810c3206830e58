"""End to end through every real component: crm-api (HTTP, outbox relay, consumers),
PostgreSQL, the Kafka-protocol broker, the sync services, the notifier."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from calsync_contracts import Origin, Provider, Topic, dead_letter_topic, partition_key
from calsync_contracts.events import (
    ProviderChange,
    ProviderChangeKind,
    ProviderChangeObserved,
    ProviderEventFields,
)
from calsync_contracts.meeting import TimedSpan
from calsync_localinfra.kafka_tail import KafkaTail

from .support import eventually

pytestmark = pytest.mark.e2e


def header(record: Any, name: str) -> str | None:
    return next((bytes(v).decode() for k, v in record.headers if k == name), None)


def payload(record: Any) -> dict[str, Any]:
    return dict(json.loads(record.value))


async def add_connection(stack, user: dict[str, Any], provider: str) -> uuid.UUID:
    """A bare connection row, for journeys about the platform rather than a provider (CalDAV
    connections are set up through the API in ``test_caldav_sync.py``)."""
    connection_id = uuid.uuid4()
    engine = create_async_engine(stack.database_url)
    async with engine.begin() as connection:
        tenant = stack.state["seed"]["tenant_id"]
        await connection.execute(
            text(
                "INSERT INTO calendar_connections (id, tenant_id, user_id, provider) "
                "VALUES (:id, :tenant, :user, :provider)"
            ),
            {"id": connection_id, "tenant": tenant, "user": user["id"], "provider": provider},
        )
    await engine.dispose()
    return connection_id


async def publish(
    bootstrap: str, topic: str, key: bytes, value: bytes, headers: dict[str, str] | None = None
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, request_timeout_ms=40_000
    )
    await producer.start()
    try:
        encoded = [(k, v.encode()) for k, v in (headers or {}).items()]
        await producer.send_and_wait(topic, value, key=key, headers=encoded)
    finally:
        await producer.stop()


MEETING = {
    "subject": "E2E kick-off",
    "start": "2027-01-12T09:00:00+01:00",
    "end": "2027-01-12T10:00:00+01:00",
    "timezone": "Europe/Copenhagen",
    "send_invitations": True,
}


async def test_a_meeting_written_through_the_api_is_published_once_with_its_trace(
    stack, kafka_tail
) -> None:
    tail: KafkaTail = await kafka_tail(Topic.MEETING_EVENTS)
    trace_id = uuid.uuid4().hex
    incoming = {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}
    async with stack.client() as client:
        response = await client.post("/meetings", json=MEETING, headers=incoming)
    assert response.status_code == 201, response.text
    meeting = response.json()
    records = await tail.wait_until(
        lambda rs: any(r.key == meeting["id"].encode() for r in rs), 30, "meeting.created"
    )
    await tail.drain()
    mine = [r for r in tail.records if r.key == meeting["id"].encode()]
    assert len(mine) == 1, "published exactly once"
    event = payload(mine[0])
    assert event["type"] == "meeting.created"
    assert event["payload"]["meeting"]["ical_uid"] == meeting["ical_uid"]
    assert event["payload"]["send_invitations"] is True
    traceparent = header(mine[0], "traceparent")
    assert traceparent is not None
    assert traceparent.split("-")[1] == trace_id, "the caller's trace continues onto Kafka"
    assert records


async def test_refresh_reaches_the_sync_service_and_its_status_comes_back(stack) -> None:
    """A bare connection (no calendar chosen, no credentials) made behind the API's back: the
    refresh reaches sync-exchange, which adopts it from crm-api and reports why it cannot sync."""
    user = stack.user(1)
    await add_connection(stack, user, "exchange")
    async with stack.client(1) as client:
        before = (await client.get(f"/users/{user['id']}/sync-status")).json()
        assert before["state"] == "pending"
        response = await client.post(
            f"/users/{user['id']}/sync-status/refresh", json={"reason": "page_load"}
        )
        assert response.status_code == 202, response.text

        async def answered() -> dict[str, Any] | None:
            status = (await client.get(f"/users/{user['id']}/sync-status")).json()
            return status if "no calendar" in status["message"] else None

        status = await eventually(answered, what="sync-exchange's connection status")
    assert status["provider"] == "exchange"
    assert status["state"] != "in_sync"


async def test_a_provider_change_becomes_a_crm_meeting_announced_as_the_providers(
    stack, kafka_tail
) -> None:
    user = stack.user(2)
    connection_id = await add_connection(stack, user, "google")
    tail: KafkaTail = await kafka_tail(Topic.MEETING_EVENTS)
    start = time_slot()
    event = ProviderChangeObserved(
        tenant_id=stack.state["seed"]["tenant_id"],
        origin=Origin.from_connection(connection_id, Provider.GOOGLE),
        payload=ProviderChange(
            connection_id=connection_id,
            provider=Provider.GOOGLE,
            user_id=user["id"],
            calendar_id="primary",
            kind=ProviderChangeKind.UPSERT,
            external_id="evt123",
            ical_uid="evt123@google.test",
            version_tag='"1"',
            initial_import=True,
            fields=ProviderEventFields(subject="Made in Google", time=start),
        ),
    )
    trace_id = uuid.uuid4().hex
    await publish(
        stack.state["kafka_bootstrap_servers"],
        Topic.PROVIDER_CHANGES,
        partition_key(event),
        event.model_dump_json().encode(),
        {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"},
    )
    async with stack.client(2) as client:

        async def imported() -> list[dict[str, Any]]:
            found = (await client.get("/meetings", params={"q": "Made in Google"})).json()
            return list(found["items"])

        [meeting] = await eventually(imported, what="the imported meeting")
    assert meeting["ical_uid"] == "evt123@google.test"
    assert meeting["owner_user_id"] == user["id"]
    records = await tail.wait_until(
        lambda rs: any(r.key == meeting["id"].encode() for r in rs), 30, "meeting.created"
    )
    record = next(r for r in records if r.key == meeting["id"].encode())
    announced = payload(record)
    traceparent = header(record, "traceparent")
    assert traceparent is not None
    assert traceparent.split("-")[1] == trace_id, "the consumer continued the producer's trace"
    assert announced["origin"] == {
        "kind": "provider",
        "connection_id": str(connection_id),
        "provider": "google",
    }
    assert announced["causation_id"] == str(event.event_id)
    assert announced["payload"]["send_invitations"] is False


async def test_a_poison_message_is_dead_lettered_and_blocks_nothing(stack, kafka_tail) -> None:
    user = stack.user(0)
    connection_id = await add_connection(stack, user, "exchange")
    dlq: KafkaTail = await kafka_tail(dead_letter_topic(Topic.PROVIDER_CHANGES))
    key = str(connection_id).encode()
    bootstrap = stack.state["kafka_bootstrap_servers"]
    await publish(bootstrap, Topic.PROVIDER_CHANGES, key, b"{not json")
    good = ProviderChangeObserved(
        tenant_id=stack.state["seed"]["tenant_id"],
        origin=Origin.from_connection(connection_id, Provider.EXCHANGE),
        payload=ProviderChange(
            connection_id=connection_id,
            provider=Provider.EXCHANGE,
            user_id=user["id"],
            calendar_id="calendar",
            kind=ProviderChangeKind.UPSERT,
            external_id="AAMk-1",
            fields=ProviderEventFields(subject="After the poison", time=time_slot()),
        ),
    )
    await publish(bootstrap, Topic.PROVIDER_CHANGES, key, good.model_dump_json().encode())
    async with stack.client(0) as client:

        async def applied() -> int:
            return int(
                (await client.get("/meetings", params={"q": "After the poison"})).json()["total"]
            )

        await eventually(applied, what="the message after the poison")
    records = await dlq.wait_until(lambda rs: any(r.key == key for r in rs), 30, "dead letter")
    [dead] = [r for r in records if r.key == key]
    assert dead.value == b"{not json"
    assert header(dead, "x-dlq-group") == "crm-api"


def time_slot() -> TimedSpan:
    from datetime import UTC, datetime, timedelta

    start = datetime(2027, 1, 13, 14, tzinfo=UTC)
    return TimedSpan(start=start, end=start + timedelta(hours=1), timezone="Europe/Warsaw")
