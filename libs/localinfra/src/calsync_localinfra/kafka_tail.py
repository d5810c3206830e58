"""Reading what gets appended to Kafka topics in tests, without a consumer group (no ~5 s group
join on Tansu): ``KafkaTail``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

REQUEST_TIMEOUT_MS = 40_000  # never <= 5000 against Tansu (group joins take ~5 s)


class TailTimeout(AssertionError):
    """The awaited records did not arrive in time (a test failure, hence AssertionError)."""


@dataclass(slots=True)
class KafkaTail:
    """Every record appended to ``topics`` after ``open()``, by manual assignment: no consumer
    group, so no ~5 s group join on Tansu."""

    bootstrap_servers: str
    topics: tuple[str, ...]
    records: list[ConsumerRecord[bytes, bytes]] = field(default_factory=list)
    _consumer: AIOKafkaConsumer | None = None

    async def open(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,  # a functional latency check must not wait on the long poll
            request_timeout_ms=REQUEST_TIMEOUT_MS,
        )
        await consumer.start()
        self._consumer = consumer
        partitions: list[TopicPartition] = []
        for topic in self.topics:
            ids = consumer.partitions_for_topic(topic)
            if not ids:
                await consumer.topics()  # refresh metadata once
                ids = consumer.partitions_for_topic(topic)
            assert ids, f"topic {topic} does not exist"
            partitions += [TopicPartition(topic, p) for p in sorted(ids)]
        consumer.assign(partitions)
        # Resolve the end offsets now (seek_to_end is lazy and could skip early records). Tansu
        # 0.6 sometimes answers a few records short of the real end (seen here), so a tail may
        # also see some older records: callers pick theirs by event id, key or header.
        for partition, offset in (await consumer.end_offsets(partitions)).items():
            consumer.seek(partition, offset)

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def poll(self, timeout_s: float = 0.1) -> list[ConsumerRecord[bytes, bytes]]:
        assert self._consumer is not None, "open() first"
        batches = await self._consumer.getmany(timeout_ms=int(timeout_s * 1000))
        new = [record for batch in batches.values() for record in batch]
        self.records += new
        return new

    async def wait_until(
        self,
        done: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
        timeout_s: float = 15.0,
        what: str = "records",
    ) -> list[ConsumerRecord[bytes, bytes]]:
        deadline = time.monotonic() + timeout_s
        while not done(self.records):
            if time.monotonic() > deadline:
                raise TailTimeout(
                    f"timed out after {timeout_s} s waiting for {what}; got {self.summary()}"
                )
            await self.poll(0.05)
        return self.records

    async def wait_for_events(
        self, event_ids: Iterable[uuid.UUID | str], timeout_s: float = 15.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Waits until a record of every event id arrived; returns the records of these ids."""
        wanted = {str(event_id) for event_id in event_ids}
        await self.wait_until(
            lambda records: wanted <= {header(r, "event_id") for r in records},
            timeout_s,
            f"{len(wanted)} events",
        )
        return [r for r in self.records if header(r, "event_id") in wanted]

    async def drain(self, quiet_s: float = 0.3) -> None:
        """Reads until nothing more arrives for ``quiet_s`` (to see duplicates or strays)."""
        while await self.poll(quiet_s):
            continue

    def summary(self) -> list[tuple[str, int, int, str | None]]:
        return [(r.topic, r.partition, r.offset, header(r, "event_id")) for r in self.records]


def header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in record.headers:
        if key == name:
            return bytes(value).decode()
    return None
