"""The transactional outbox and its relay against real PostgreSQL and a real Kafka-protocol broker.

What must hold (docs/adr/0001-transactional-outbox.md): an event reaches Kafka if and only if its
transaction committed; per meeting, in write order; at least once across relay restarts; one relay
per database; woken by NOTIFY rather than by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import select, text

from calsync_contracts import Origin, Topic, partition_key
from calsync_contracts.events import (
    MeetingChange,
    MeetingCreated,
    MeetingUpdated,
    meeting_event_adapter,
)
from calsync_contracts.meeting import MeetingSnapshot, TimedSpan
from calsync_localinfra.ports import free_port
from calsync_platform import relay as relay_module
from calsync_platform.outbox import enqueue, outbox
from calsync_platform.relay import RELAY_LOCK_KEY, OutboxRelay, RelayConfig

pytestmark = pytest.mark.integration

TENANT = uuid.uuid4()


def meeting_event(meeting_id: uuid.UUID, version: int) -> MeetingCreated | MeetingUpdated:
    start = datetime(2031, 3, 4, 9, tzinfo=UTC) + timedelta(days=version)
    snapshot = MeetingSnapshot(
        id=meeting_id,
        tenant_id=TENANT,
        ical_uid=f"{meeting_id}@crm.test",
        version=version,
        owner_user_id=TENANT,
        subject=f"Review v{version}",
        time=TimedSpan(start=start, end=start + timedelta(hours=1), timezone="Europe/Berlin"),
    )
    kind = MeetingCreated if version == 1 else MeetingUpdated
    return kind(tenant_id=TENANT, origin=Origin.crm(), payload=MeetingChange(meeting=snapshot))


def header_of(record: Any, name: str = "event_id") -> str | None:
    value = dict(record.headers).get(name)
    return None if value is None else bytes(value).decode()


def version_of(record: Any) -> int:
    return meeting_event_adapter.validate_json(record.value).payload.meeting.version


class Relays:
    """Starts relays against the module's database and always stops them (even on failure)."""

    def __init__(self, dsn: str, bootstrap_servers: str) -> None:
        self.dsn = dsn
        self.bootstrap_servers = bootstrap_servers
        self.running: dict[OutboxRelay, asyncio.Task[None]] = {}

    def config(self, **overrides: Any) -> RelayConfig:
        options: dict[str, Any] = {
            "dsn": self.dsn,
            "bootstrap_servers": self.bootstrap_servers,
            "idempotent_producer": False,  # Tansu rejects InitProducerId (docs/adr/0004)
            "leader_retry_s": 0.1,
        }
        return RelayConfig(**(options | overrides))

    def start(self, relay: OutboxRelay | None = None, **overrides: Any) -> OutboxRelay:
        relay = relay or OutboxRelay(self.config(**overrides))
        self.running[relay] = asyncio.create_task(relay.run())
        return relay

    async def stop(self, relay: OutboxRelay) -> None:
        relay.stop()
        await self.finished(relay)

    async def finished(self, relay: OutboxRelay, timeout_s: float = 15.0) -> None:
        await asyncio.wait_for(self.running.pop(relay), timeout_s)

    async def stop_all(self) -> None:
        for relay in list(self.running):
            with contextlib.suppress(Exception):
                await self.stop(relay)


@pytest.fixture
async def relays(outbox_db: Any, local_kafka: Any) -> AsyncIterator[Relays]:
    relays = Relays(outbox_db.dsn, local_kafka.bootstrap_servers)
    try:
        yield relays
    finally:
        await relays.stop_all()


@pytest.fixture
async def write(outbox_db: Any) -> Callable[..., Any]:
    """``await write(event, ...)``: each event in its own committed transaction."""

    async def write_events(*events: MeetingCreated | MeetingUpdated) -> None:
        for event in events:
            async with outbox_db.sessions() as session, session.begin():
                await enqueue(session, event)

    return write_events


async def published_at(outbox_db: Any, events: Iterable[Any]) -> dict[uuid.UUID, datetime | None]:
    ids = [event.event_id for event in events]
    async with outbox_db.sessions() as session:
        rows = await session.execute(
            select(outbox.c.event_id, outbox.c.published_at).where(outbox.c.event_id.in_(ids))
        )
        return {event_id: at for event_id, at in rows.all()}


_LOCK_HOLDERS = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $1"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


async def lock_holder_pids(outbox_db: Any) -> list[int]:
    connection = await asyncpg.connect(outbox_db.dsn)
    try:
        return [row["pid"] for row in await connection.fetch(_LOCK_HOLDERS, RELAY_LOCK_KEY)]
    finally:
        await connection.close()


async def lock_holder_pid(outbox_db: Any) -> int | None:
    pids = await lock_holder_pids(outbox_db)
    assert len(pids) <= 1, pids
    return pids[0] if pids else None


async def lock_holders(outbox_db: Any) -> int:
    return len(await lock_holder_pids(outbox_db))


async def eventually(condition: Callable[[], Any], timeout_s: float = 10.0, what: str = "") -> None:
    """Polls ``condition`` (sync or async) until true."""
    deadline = time.monotonic() + timeout_s
    while True:
        outcome = condition()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s: {what}")
        await asyncio.sleep(0.02)


# --- the event on the wire ------------------------------------------------------------------------


async def test_committed_event_is_published_with_contract_topic_key_and_headers(
    outbox_db, relays, write, kafka_tail
):
    tail = await kafka_tail(Topic.MEETING_EVENTS)
    relays.start()
    meeting_id = uuid.uuid4()
    event = meeting_event(meeting_id, 1)

    with TracerProvider().get_tracer("test").start_as_current_span("PUT /meetings") as span:
        await write(event)
    trace_id = format(span.get_span_context().trace_id, "032x")

    (record,) = await tail.wait_for_events([event.event_id])
    assert record.topic == Topic.MEETING_EVENTS
    assert record.key == partition_key(event) == str(meeting_id).encode()
    assert MeetingCreated.model_validate_json(record.value) == event
    headers = {key: bytes(value).decode() for key, value in record.headers}
    assert headers["event_id"] == str(event.event_id)
    assert headers["event_type"] == "meeting.created"
    assert headers["correlation_id"] == str(event.correlation_id)
    assert headers["content-type"] == "application/json"
    # W3C traceparent "00-<trace id>-<span id>-<flags>": the writer's trace continues on Kafka.
    version, header_trace_id, _, _ = headers["traceparent"].split("-")
    assert (version, header_trace_id) == ("00", trace_id)

    # Marked only after Kafka acknowledged the send, so it may lag the record by a moment.
    await eventually(lambda: _all_published(outbox_db, [event]), what="published_at set")


async def test_rolled_back_transaction_publishes_nothing(outbox_db, relays, write, kafka_tail):
    tail = await kafka_tail(Topic.MEETING_EVENTS)
    relays.start()
    meeting_id = uuid.uuid4()
    phantom, marker = meeting_event(meeting_id, 1), meeting_event(meeting_id, 2)

    async with outbox_db.sessions() as session:
        transaction = await session.begin()
        await enqueue(session, phantom)
        await transaction.rollback()
    # Same key, same partition, written later: once the marker is on Kafka, so would the phantom.
    await write(marker)
    await tail.wait_for_events([marker.event_id])
    await tail.drain()

    assert str(phantom.event_id) not in {header_of(r) for r in tail.records}
    assert phantom.event_id not in await published_at(outbox_db, [phantom])


# --- order, completeness, restarts ----------------------------------------------------------------


def assert_in_write_order(records: list[Any], meetings: list[uuid.UUID], versions: int) -> None:
    by_key: dict[bytes, list[Any]] = defaultdict(list)
    for record in records:
        by_key[record.key].append(record)
    assert sorted(by_key) == sorted(str(m).encode() for m in meetings)
    for key, keyed in by_key.items():
        assert len({r.partition for r in keyed}) == 1, f"{key!r} spread over partitions"
        keyed.sort(key=lambda r: r.offset)
        assert [version_of(r) for r in keyed] == list(range(1, versions + 1)), key


async def test_events_of_each_meeting_are_published_in_write_order(
    outbox_db, relays, write, kafka_tail
):
    tail = await kafka_tail(Topic.MEETING_EVENTS)
    relays.start(batch_size=7)  # several batches, none aligned with the interleaving
    meetings = [uuid.uuid4() for _ in range(5)]
    events = [meeting_event(m, v) for v in range(1, 11) for m in meetings]  # interleaved

    await write(*events)

    records = await tail.wait_for_events(e.event_id for e in events)
    await tail.drain()
    records = [r for r in tail.records if r.key in {str(m).encode() for m in meetings}]
    assert len(records) == 50, "each event exactly once when nothing crashed"
    assert_in_write_order(records, meetings, versions=10)
    assert len(await published_at(outbox_db, events)) == 50
    await eventually(lambda: _all_published(outbox_db, events), what="published_at on every row")


class StopsAfterTwoBatches(OutboxRelay):
    async def publish_pending(self, connection: Any, producer: AIOKafkaProducer) -> int:
        published = await super().publish_pending(connection, producer)
        if self.published >= 10:
            self.stop()
        return published


async def test_restarted_relay_publishes_the_remainder_and_loses_nothing(
    outbox_db, relays, write, kafka_tail
):
    tail = await kafka_tail(Topic.MEETING_EVENTS)
    meetings = [uuid.uuid4() for _ in range(3)]
    events = [meeting_event(m, v) for v in range(1, 11) for m in meetings]
    await write(*events)

    first = relays.start(StopsAfterTwoBatches(relays.config(batch_size=5)))
    await relays.finished(first)
    stamps = await published_at(outbox_db, events)
    published = [e.event_id for e in events if stamps[e.event_id]]
    assert published == [e.event_id for e in events[:10]], "the first 10 rows in id order"

    second = relays.start(batch_size=5)
    records = await tail.wait_for_events(e.event_id for e in events)
    await tail.drain()
    assert sorted(str(header_of(r)) for r in records) == sorted(str(e.event_id) for e in events)
    assert first.published == 10
    # A record is on Kafka a moment before the relay counts (and marks) it.
    await eventually(lambda: second.published == 20, what=f"20 counted, not {second.published}")
    assert_in_write_order(records, meetings, versions=10)
    await eventually(lambda: _all_published(outbox_db, events), what="published_at on every row")


class _MarkFails:
    """An asyncpg connection whose ``UPDATE … SET published_at`` dies: the process crashed after
    Kafka acknowledged the batch but before the rows were marked."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    async def execute(self, query: str, *args: Any) -> Any:
        if query == relay_module._MARK:
            raise ConnectionResetError("simulated crash between send and mark")
        return await self._connection.execute(query, *args)


class CrashesOnceBeforeMarking(OutboxRelay):
    crashed = False

    async def publish_pending(self, connection: Any, producer: AIOKafkaProducer) -> int:
        if not self.crashed:
            self.crashed = True
            return await super().publish_pending(_MarkFails(connection), producer)
        return await super().publish_pending(connection, producer)


async def test_crash_between_send_and_mark_republishes_the_batch(
    outbox_db, relays, write, kafka_tail
):
    tail = await kafka_tail(Topic.MEETING_EVENTS)
    meeting = uuid.uuid4()
    events = [meeting_event(meeting, v) for v in range(1, 9)]
    await write(*events)

    relay = relays.start(CrashesOnceBeforeMarking(relays.config(batch_size=5)))
    await tail.wait_for_events(e.event_id for e in events)
    await eventually(
        lambda: _all_published(outbox_db, events), what="rows marked after the re-election"
    )
    await tail.drain()

    ours = [r for r in tail.records if r.key == str(meeting).encode()]
    ids = [header_of(r) for r in ours]
    # At least once: the unmarked first batch went out twice, in order both times; nothing lost.
    expected = [str(e.event_id) for e in events]
    assert ids == expected[:5] + expected, ids
    assert relay.crashed


async def _all_published(outbox_db: Any, events: list[Any]) -> bool:
    return all((await published_at(outbox_db, events)).values())


# --- one leader per database ----------------------------------------------------------------------


async def test_second_relay_follows_while_the_first_leads_and_takes_over(
    outbox_db, relays, write, kafka_tail
):
    tail = await kafka_tail(Topic.MEETING_EVENTS)
    meeting = uuid.uuid4()
    leader = relays.start()
    warmup = meeting_event(meeting, 1)
    await write(warmup)
    await tail.wait_for_events([warmup.event_id])

    follower = relays.start()
    await asyncio.sleep(0.5)  # the follower has tried the lock ~5 times by now
    assert await lock_holders(outbox_db) == 1
    led = [meeting_event(meeting, v) for v in range(2, 7)]
    await write(*led)
    await tail.wait_for_events(e.event_id for e in led)
    await eventually(lambda: leader.published == 6, what=f"6 counted, not {leader.published}")
    assert follower.published == 0

    await relays.stop(leader)
    taken_over = [meeting_event(meeting, v) for v in range(7, 12)]
    await write(*taken_over)  # written while nobody may be leading: nothing may be lost
    await tail.wait_for_events((e.event_id for e in taken_over), timeout_s=20)
    await eventually(lambda: follower.published == 5, what=f"5 counted, not {follower.published}")
    await tail.drain()
    assert (leader.published, follower.published) == (6, 5)
    assert await lock_holders(outbox_db) == 1
    ours = [r for r in tail.records if r.key == str(meeting).encode()]
    assert [version_of(r) for r in ours] == list(range(1, 12))


# --- outages: the relay outlives them -------------------------------------------------------------


class KafkaUnreachableAtFirst(OutboxRelay):
    """Its first producer points at a port nothing listens on: Kafka is down when it is elected."""

    producers = 0

    def _producer(self) -> AIOKafkaProducer:
        self.producers += 1
        if self.producers == 1:
            return AIOKafkaProducer(
                bootstrap_servers=f"127.0.0.1:{free_port()}",
                request_timeout_ms=40_000,
                enable_idempotence=False,
            )
        return super()._producer()


async def test_relay_outlives_kafka_being_unreachable(outbox_db, relays, write, kafka_tail):
    tail = await kafka_tail(Topic.MEETING_EVENTS)
    event = meeting_event(uuid.uuid4(), 1)
    await write(event)

    relay = relays.start(KafkaUnreachableAtFirst(relays.config()))
    await tail.wait_for_events([event.event_id])
    assert relay.producers == 2, "it gave up the failed producer and was elected again"
    assert not relays.running[relay].done()


async def test_relay_outlives_losing_its_database_connection(outbox_db, relays, write, kafka_tail):
    tail = await kafka_tail(Topic.MEETING_EVENTS)
    meeting = uuid.uuid4()
    relay = relays.start()
    first = meeting_event(meeting, 1)
    await write(first)
    await tail.wait_for_events([first.event_id])
    await eventually(lambda: relay.published == 1, what="first marked published")
    before = await lock_holder_pid(outbox_db)

    async with outbox_db.sessions() as session:  # e.g. a failover or an administrator
        await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before})

    second = meeting_event(meeting, 2)
    await write(second)
    await tail.wait_for_events([second.event_id])
    assert not relays.running[relay].done()
    assert await lock_holder_pid(outbox_db) not in (None, before), "re-elected on a new session"
    await eventually(lambda: relay.published == 2, what=f"2 counted, not {relay.published}")


# --- latency: NOTIFY wakes the relay --------------------------------------------------------------


async def test_notify_wakes_the_relay_without_waiting_for_the_poll(
    outbox_db, relays, write, kafka_tail
):
    tail = await kafka_tail(Topic.MEETING_EVENTS)
    meeting = uuid.uuid4()
    # The safety poll is pushed far out, so only the NOTIFY can explain a fast publish.
    warmup = meeting_event(meeting, 1)
    await write(warmup)  # before the relay runs: its first pass publishes it, no NOTIFY needed
    relays.start(safety_poll_s=60.0)
    await tail.wait_for_events([warmup.event_id])
    await asyncio.sleep(0.1)  # the relay is idle on its wake-up event

    latencies = []
    for version in (2, 3, 4):
        event = meeting_event(meeting, version)
        started = time.monotonic()
        await write(event)  # returns after COMMIT
        await tail.wait_for_events([event.event_id], timeout_s=5)
        latencies.append(time.monotonic() - started)
    assert max(latencies) < 0.5, latencies


async def test_sweep_deletes_only_rows_published_before_the_retention(outbox_db, relays) -> None:
    """Found by the benchmark: the sweep once crashed the relay every 600 loops (a str passed
    as an interval), stalling publishing for the leader-retry pause each time."""
    import asyncpg

    relay = OutboxRelay(relays.config(retention=timedelta(hours=1)))
    connection = await asyncpg.connect(outbox_db.dsn)
    try:
        await connection.execute("DELETE FROM outbox")
        for age_hours, published in ((3, True), (2, True), (0, True), (3, False)):
            await connection.execute(
                "INSERT INTO outbox (event_id, topic, partition_key, event_type, payload,"
                " published_at) VALUES ($1, 't', 'k', 'e', '{}'::jsonb,"
                " CASE WHEN $2 THEN now() - make_interval(hours => $3) END)",
                uuid.uuid4(),
                published,
                age_hours,
            )
        assert await relay.sweep(connection) == 2
        left = await connection.fetch("SELECT published_at IS NULL AS pending FROM outbox")
        assert sorted(r["pending"] for r in left) == [False, True]
    finally:
        await connection.execute("DELETE FROM outbox")
        await connection.close()
