"""Creates every Kafka topic of the system, ``calsync_contracts.topics.all_topic_specs()``.

``python -m calsync_platform.topics_admin`` runs once before the services start: the one-shot
``kafka-topics`` service of docker-compose.yml and the ``kafka-topics`` Job in deploy/k8s. The
brokers there run with automatic topic creation off, so this is the only place topics are made,
each with the partition count its spec gives (the ceiling on consumer parallelism).

Idempotent: a topic that already exists is left alone. If an existing topic has *fewer*
partitions than its spec, the run fails and says so: something created it with the wrong count
(typically a client's auto-creation), and adding partitions later would move keys to other
partitions and break per-key ordering, so fixing it is an operator's decision. More partitions
than the spec is accepted (an operator scaled it up on purpose) and logged.

Reads ``KAFKA_BOOTSTRAP_SERVERS`` and ``KAFKA_TOPIC_REPLICATION_FACTOR`` (default 1; 3 on a
production cluster). It waits up to ``KAFKA_TOPICS_TIMEOUT_S`` for the broker to answer, so it can
start while the broker is still starting.

The topic list is read from metadata for *all* topics, never for named ones: a metadata request
naming a missing topic makes brokers that allow auto-creation (Tansu does) create it with their
default partition count.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from pydantic import Field

from calsync_contracts.topics import TopicSpec, all_topic_specs
from calsync_platform.kafka import REQUEST_TIMEOUT_MS
from calsync_platform.logs import configure_logging, get_logger
from calsync_platform.settings import ServiceSettings

log = get_logger(__name__)

CLIENT_ID = "calsync-topics-admin"
_RETRY_DELAY_S = 1.0


class TopicsAdminSettings(ServiceSettings):
    """The service settings plus what topic creation needs."""

    kafka_topic_replication_factor: int = Field(
        default=1,
        ge=1,
        description="Replicas per partition of the created topics: 1 on a single broker, "
        "3 on a production cluster.",
    )
    kafka_topics_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="How long to wait for the broker to answer and the topics to show up.",
    )


class TopicsAdminError(RuntimeError):
    """The topics could not be brought to their specs."""


@dataclass(frozen=True, slots=True)
class TopicsReport:
    created: tuple[str, ...]
    """Topics this run created."""
    existing: tuple[str, ...]
    """Topics that were there already (or were created concurrently by another run)."""


def partition_counts(metadata: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Topic name -> partition count, from ``AIOKafkaAdminClient.describe_topics()`` entries
    (entries with an error code are skipped: such a topic is not usable yet)."""
    counts: dict[str, int] = {}
    for entry in metadata:
        if entry.get("error_code", 0) == 0:
            counts[str(entry["topic"])] = len(entry.get("partitions", ()))
    return counts


def _leaderless(metadata: Iterable[Mapping[str, Any]], names: set[str]) -> set[str]:
    """Which of ``names`` still have a partition without a leader (just created)."""
    return {
        str(entry["topic"])
        for entry in metadata
        if entry["topic"] in names
        and any(p.get("leader", -1) < 0 or p.get("error_code", 0) for p in entry["partitions"])
    }


def too_few_partitions(specs: Iterable[TopicSpec], counts: Mapping[str, int]) -> list[str]:
    return [
        f"{spec.name} has {counts[spec.name]} partitions, its spec wants {spec.partitions}"
        for spec in specs
        if spec.name in counts and counts[spec.name] < spec.partitions
    ]


async def _connect(bootstrap_servers: str, deadline: float) -> AIOKafkaAdminClient:
    """An admin client, retrying until the broker answers or the deadline passes."""
    while True:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            client_id=CLIENT_ID,
            request_timeout_ms=REQUEST_TIMEOUT_MS,
        )
        try:
            await admin.start()
        except KafkaError as error:
            await admin.close()
            if time.monotonic() >= deadline:
                raise TopicsAdminError(
                    f"no Kafka broker answered at {bootstrap_servers}: {error}"
                ) from error
            log.info("waiting for the Kafka broker", bootstrap_servers=bootstrap_servers)
            await asyncio.sleep(_RETRY_DELAY_S)
        else:
            return admin


async def _describe_all(admin: AIOKafkaAdminClient) -> list[Mapping[str, Any]]:
    metadata: list[Mapping[str, Any]] = await admin.describe_topics()  # all topics: see above
    return metadata


async def _create(
    admin: AIOKafkaAdminClient, specs: list[TopicSpec], replication_factor: int, timeout_ms: int
) -> set[str]:
    """Sends one CreateTopics request; returns the names that already existed (a concurrent
    run); raises on any other per-topic error."""
    response = await admin.create_topics(
        [NewTopic(spec.name, spec.partitions, replication_factor) for spec in specs],
        timeout_ms=timeout_ms,
    )
    already: set[str] = set()
    errors: list[str] = []
    for result in response.to_object()["topic_errors"]:
        code = int(result["error_code"])
        if code == 0:
            continue
        if code == TopicAlreadyExistsError.errno:
            already.add(str(result["topic"]))
        else:
            message = result.get("error_message") or f"error code {code}"
            errors.append(f"{result['topic']}: {message} (error code {code})")
    if errors:
        raise TopicsAdminError("the broker refused to create topics: " + "; ".join(errors))
    return already


async def ensure_topics(
    bootstrap_servers: str,
    specs: Iterable[TopicSpec] | None = None,
    *,
    replication_factor: int = 1,
    timeout_s: float = 120.0,
) -> TopicsReport:
    """Creates the missing topics of ``specs`` (default: every topic of the system) and waits
    until every one of them is visible with a leader for each partition."""
    wanted = list(all_topic_specs() if specs is None else specs)
    deadline = time.monotonic() + timeout_s
    admin = await _connect(bootstrap_servers, deadline)
    try:
        counts = partition_counts(await _describe_all(admin))
        problems = too_few_partitions(wanted, counts)
        if problems:
            raise TopicsAdminError("; ".join(problems))
        for spec in wanted:
            if counts.get(spec.name, 0) > spec.partitions:
                log.warning(
                    "topic has more partitions than its spec",
                    topic=spec.name,
                    partitions=counts[spec.name],
                    spec=spec.partitions,
                )
        missing = [spec for spec in wanted if spec.name not in counts]
        raced: set[str] = set()
        if missing:
            timeout_ms = max(1000, int((deadline - time.monotonic()) * 1000))
            raced = await _create(admin, missing, replication_factor, timeout_ms)
        await _wait_until_usable(admin, wanted, deadline)
        created = tuple(spec.name for spec in missing if spec.name not in raced)
        existing = tuple(spec.name for spec in wanted if spec.name not in created)
        return TopicsReport(created=created, existing=existing)
    finally:
        await admin.close()


async def _wait_until_usable(
    admin: AIOKafkaAdminClient, specs: list[TopicSpec], deadline: float
) -> None:
    names = {spec.name for spec in specs}
    while True:
        metadata = await _describe_all(admin)
        counts = partition_counts(metadata)
        problems = too_few_partitions(specs, counts)
        if problems:  # e.g. a concurrent creator used another count
            raise TopicsAdminError("; ".join(problems))
        pending = (names - counts.keys()) | _leaderless(metadata, names)
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise TopicsAdminError(f"topics not usable in time: {', '.join(sorted(pending))}")
        await asyncio.sleep(0.2)


def main() -> int:
    settings = TopicsAdminSettings()
    configure_logging(CLIENT_ID, settings.log_level)
    try:
        report = asyncio.run(
            ensure_topics(
                settings.kafka_bootstrap_servers,
                replication_factor=settings.kafka_topic_replication_factor,
                timeout_s=settings.kafka_topics_timeout_s,
            )
        )
    except (TopicsAdminError, KafkaError) as error:
        log.error("topic creation failed", error=f"{type(error).__name__}: {error}")
        return 1
    log.info("topics ready", created=list(report.created), existing=list(report.existing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
