"""Unit tests without servers: the retry delays, and the dead-letter middleware on FastStream's
in-memory ``TestKafkaBroker``."""

from __future__ import annotations

from typing import Any

import pytest
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker
from pydantic import BaseModel

from calsync_contracts import dead_letter_topic
from calsync_platform.kafka import PoisonMessage, RetryPolicy, make_broker, subscriber_options
from calsync_platform.settings import ServiceSettings

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


# --- the broker every service builds ---------------------------------------------------------


def unit_broker(service: str) -> KafkaBroker:
    settings = ServiceSettings(
        kafka_idempotent_producer=False, kafka_max_attempts=3, kafka_retry_base_delay_ms=0
    )
    return make_broker(settings, service)


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
