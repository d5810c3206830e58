"""The consumer delivery policy (docs/adr/0005-consumer-delivery.md) with real FastStream
``KafkaBroker``s from ``make_broker`` against the real Kafka-protocol broker.

Each consumer-group join costs time on Tansu, so one broker per concern is started once per
module (concurrently, with short group sessions: see ``QUICK_JOIN``) and the tests share it, each
on records of its own.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import BaseModel

from calsync_contracts import dead_letter_topic
from calsync_platform.kafka import REQUEST_TIMEOUT_MS, make_broker, subscriber_options
from calsync_platform.settings import ServiceSettings

pytestmark = pytest.mark.integration

MAX_ATTEMPTS = 3


class Job(BaseModel):
    id: str
    behaviour: str
    """``ok``; ``fail-always``; ``fail-twice`` (then succeeds); ``hang`` (never returns, in a
    worker made with ``hang=True``)."""


def settings(bootstrap_servers: str) -> ServiceSettings:
    return ServiceSettings(
        kafka_bootstrap_servers=bootstrap_servers,
        kafka_idempotent_producer=False,  # Tansu rejects InitProducerId (docs/adr/0004)
        kafka_max_attempts=MAX_ATTEMPTS,
        kafka_retry_base_delay_ms=10,
    )


@dataclass
class Worker:
    """A consumer service: a broker from ``make_broker`` with one subscriber on ``topic``."""

    topic: str
    group: str
    broker: KafkaBroker
    calls: Counter[str] = field(default_factory=Counter)
    completed: list[str] = field(default_factory=list)
    offsets: dict[str, int] = field(default_factory=dict)
    started: dict[str, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))
    handler_tasks: dict[str, asyncio.Task[Any]] = field(default_factory=dict)

    async def wait_completed(self, job_id: str, timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while job_id not in self.completed:
            if time.monotonic() > deadline:
                pytest.fail(f"{job_id} not processed; calls {dict(self.calls)}")
            await asyncio.sleep(0.02)


# Group timing (not part of the delivery policy under test: ack policy, offsets, group id and
# retries stay as make_broker/subscriber_options make them). Measured on Tansu: a first join takes
# about half the session timeout (5 s with aiokafka's default 10 s), and a new member of a group
# whose previous member just left waits ~18 s by default (Tansu keeps the old member until its
# session expires), but ~1 s with a 1 s session.
QUICK_JOIN = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 500}
"""For the policy worker: a 1 s join, and a 2 s margin against a stalled event loop."""
FAST_REJOIN = {"session_timeout_ms": 1000, "heartbeat_interval_ms": 250}
"""For the crash test's workers, which hand their group over from one member to the next."""


def make_worker(
    bootstrap_servers: str,
    topic: str,
    group: str,
    *,
    hang: bool = True,
    group_timing: dict[str, int] | None = None,
) -> Worker:
    broker = make_broker(settings(bootstrap_servers), group)
    worker = Worker(topic, group, broker)
    options = subscriber_options(group) | (group_timing or {})

    @broker.subscriber(topic, **options)  # type: ignore[untyped-decorator]
    async def handle(job: Job, message: KafkaMessage) -> None:
        worker.calls[job.id] += 1
        record = message.raw_message
        assert not isinstance(record, tuple), "not a batch subscriber"
        worker.offsets[job.id] = record.offset
        worker.started[job.id].set()
        if job.behaviour == "fail-always":
            raise RuntimeError(f"cannot process {job.id}")
        if job.behaviour == "fail-twice" and worker.calls[job.id] <= 2:
            raise ConnectionError(f"transient failure {worker.calls[job.id]} of {job.id}")
        if job.behaviour == "hang" and hang:
            worker.handler_tasks[job.id] = asyncio.current_task()  # type: ignore[assignment]
            await asyncio.Event().wait()
        worker.completed.append(job.id)

    return worker


@dataclass
class Topics:
    policy: str
    crash: str


@pytest.fixture(scope="module")
async def topics(fresh_topic: Any) -> Topics:
    return Topics(policy=await fresh_topic("delivery"), crash=await fresh_topic("crash"))


@pytest.fixture(scope="module")
async def workers(local_kafka: Any, topics: Topics) -> AsyncIterator[dict[str, Worker]]:
    """The policy worker and the first crash-test worker, started together so that their group
    joins overlap."""
    servers = local_kafka.bootstrap_servers
    started = {
        "policy": make_worker(
            servers, topics.policy, f"policy-{uuid.uuid4().hex[:8]}", group_timing=QUICK_JOIN
        ),
        "crash": make_worker(
            servers, topics.crash, f"crash-{uuid.uuid4().hex[:8]}", group_timing=FAST_REJOIN
        ),
    }
    await asyncio.gather(*(worker.broker.start() for worker in started.values()))
    try:
        yield started
    finally:
        for worker in started.values():
            for task in worker.handler_tasks.values():
                task.cancel()  # else stop() waits out FastStream's 15 s graceful timeout
        await asyncio.gather(*(worker.broker.stop() for worker in started.values()))


async def publish(worker: Worker, job: dict[str, Any], key: bytes = b"one-key") -> None:
    await worker.broker.publish(job, topic=worker.topic, key=key, headers={"test-id": job["id"]})


def headers_of(record: Any) -> dict[str, str]:
    return {key: bytes(value).decode() for key, value in record.headers}


async def dead_letter(dlq: Any, job_id: str) -> Any:
    """The one dead-lettered record of ``job_id`` (the DLQ copies the ``test-id`` header)."""

    def of_job(records: list[Any]) -> list[Any]:
        return [r for r in records if headers_of(r).get("test-id") == job_id]

    await dlq.wait_until(of_job, what=f"{job_id} in the dead-letter topic")
    await dlq.drain()
    (record,) = of_job(dlq.records)
    return record


async def committed_offset(bootstrap_servers: str, group: str, topic: str) -> int | None:
    """The group's committed offset of partition 0 (an OffsetFetch; joins no group)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
    )
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0))  # type: ignore[no-any-return]
    finally:
        await consumer.stop()


# --- retries and dead letters ---------------------------------------------------------------------


async def test_poison_record_is_dead_lettered_after_the_retry_budget_and_blocks_nothing_more(
    workers, kafka_tail
):
    worker = workers["policy"]
    dlq = await kafka_tail(dead_letter_topic(worker.topic))
    poison, after = f"poison-{uuid.uuid4()}", f"after-{uuid.uuid4()}"

    await publish(worker, {"id": poison, "behaviour": "fail-always"})
    await publish(worker, {"id": after, "behaviour": "ok"})  # same key: same partition, behind it

    await worker.wait_completed(after)
    record = await dead_letter(dlq, poison)
    assert worker.calls[poison] == MAX_ATTEMPTS
    assert worker.calls[after] == 1
    assert poison not in worker.completed
    headers = headers_of(record)
    assert headers["x-dlq-group"] == worker.group
    assert headers["x-dlq-source-topic"] == worker.topic
    assert headers["x-dlq-source-partition"] == "0"
    assert headers["x-dlq-source-offset"] == str(worker.offsets[poison])
    assert headers["x-dlq-attempts"] == str(MAX_ATTEMPTS)
    assert headers["x-dlq-error"] == f"RuntimeError: cannot process {poison}"
    assert record.key == b"one-key"
    assert Job.model_validate_json(record.value) == Job(id=poison, behaviour="fail-always")


async def test_record_failing_validation_is_dead_lettered_at_once(workers, kafka_tail):
    worker = workers["policy"]
    dlq = await kafka_tail(dead_letter_topic(worker.topic))
    invalid, after = f"invalid-{uuid.uuid4()}", f"after-{uuid.uuid4()}"

    await publish(worker, {"id": invalid, "behaviour": {"not": "a string"}})
    await publish(worker, {"id": after, "behaviour": "ok"})

    await worker.wait_completed(after)
    record = await dead_letter(dlq, invalid)
    headers = headers_of(record)
    assert headers["x-dlq-attempts"] == "1", "invalid input is never retried"
    assert headers["x-dlq-error"].startswith("ValidationError")
    assert worker.calls[invalid] == 0, "the handler never saw it"


async def test_transient_failures_are_retried_and_the_record_processed_once(workers, kafka_tail):
    worker = workers["policy"]
    dlq = await kafka_tail(dead_letter_topic(worker.topic))
    flaky, after = f"flaky-{uuid.uuid4()}", f"after-{uuid.uuid4()}"

    await publish(worker, {"id": flaky, "behaviour": "fail-twice"})
    await publish(worker, {"id": after, "behaviour": "ok"})

    await worker.wait_completed(after)
    assert worker.calls[flaky] == 3
    assert worker.completed.count(flaky) == 1
    assert worker.completed.index(flaky) < worker.completed.index(after)
    await dlq.drain()
    assert not [r for r in dlq.records if headers_of(r).get("test-id") == flaky]


# --- commit after success -------------------------------------------------------------------------


async def test_offsets_are_committed_after_success_only_so_a_crash_redelivers(workers, local_kafka):
    first = workers["crash"]
    servers = local_kafka.bootstrap_servers
    done, in_flight = f"done-{uuid.uuid4()}", f"in-flight-{uuid.uuid4()}"

    await publish(first, {"id": done, "behaviour": "ok"})
    await first.wait_completed(done)
    await publish(first, {"id": in_flight, "behaviour": "hang"})
    await asyncio.wait_for(first.started[in_flight].wait(), 15)
    assert await committed_offset(servers, first.group, first.topic) == 1, "only `done`"

    # The worker dies mid-handler (its consume task is killed), then its broker goes away.
    first.handler_tasks[in_flight].cancel()
    await first.broker.stop()
    assert await committed_offset(servers, first.group, first.topic) == 1

    second = make_worker(servers, first.topic, first.group, hang=False, group_timing=FAST_REJOIN)
    await second.broker.start()
    try:
        await second.wait_completed(in_flight, timeout_s=20)
        assert second.calls == Counter({in_flight: 1}), "redelivered; the committed one was not"
        assert await committed_offset(servers, second.group, second.topic) == 2
    finally:
        await second.broker.stop()
