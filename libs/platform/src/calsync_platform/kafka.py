"""The Kafka broker every service uses, with one explicit delivery policy.

Delivery policy (docs/adr/0005-consumer-delivery.md):
- ``AckPolicy.NACK_ON_ERROR`` with auto-commit off: the offset is committed only after the
  handler returned, i.e. after its effect is durable (at-least-once; handlers are idempotent).
- ``RetryThenDeadLetter`` middleware: a failing handler is retried in place with exponential
  delay, at most ``kafka_max_attempts`` times; a message that cannot even be decoded is not
  retried. Then the record goes to ``<topic>.dlq`` with the failure in headers and the offset is
  committed, so a poison message blocks its partition for at most the retry budget.
- If the dead-letter publish itself fails, the handler raises, the message is nacked and
  redelivered: nothing is ever dropped silently.
- One consumer group per service (``group_id = service name``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from json import JSONDecodeError
from typing import Any

from faststream import AckPolicy, BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.message import StreamMessage
from opentelemetry.sdk.trace import TracerProvider
from pydantic import ValidationError

from calsync_contracts import dead_letter_topic
from calsync_platform.logs import bind_correlation, get_logger
from calsync_platform.settings import ServiceSettings

log = get_logger(__name__)

# aiokafka loops on JoinGroup against Tansu when request_timeout_ms <= 5000 (group joins take
# ~5 s there); Kafka's own default is 40 s.
REQUEST_TIMEOUT_MS = 40_000


class PoisonMessage(Exception):
    """Raised by a handler for input that can never succeed: skip retries, dead-letter at once."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    base_delay_s: float
    max_delay_s: float = 10.0

    def delay(self, attempt: int) -> float:
        return float(min(self.base_delay_s * 2 ** (attempt - 1), self.max_delay_s))


@dataclass(slots=True)
class DeadLetterSink:
    """Where exhausted records go. Holds the broker once it exists (middlewares are built
    before the broker they run in)."""

    group_id: str
    policy: RetryPolicy
    broker: KafkaBroker | None = None

    async def send(self, msg: StreamMessage[Any], error: BaseException, attempts: int) -> None:
        assert self.broker is not None, "DeadLetterSink used before attach()"
        raw = msg.raw_message
        topic = getattr(raw, "topic", "unknown")
        headers = {
            **{k: v for k, v in msg.headers.items() if isinstance(v, str)},
            "x-dlq-group": self.group_id,
            "x-dlq-source-topic": topic,
            "x-dlq-source-partition": str(getattr(raw, "partition", "")),
            "x-dlq-source-offset": str(getattr(raw, "offset", "")),
            "x-dlq-attempts": str(attempts),
            "x-dlq-error": f"{type(error).__name__}: {error}"[:2000],
        }
        await self.broker.publish(
            msg.body,
            topic=dead_letter_topic(topic),
            key=getattr(raw, "key", None),
            headers=headers,
        )
        log.error(
            "message dead-lettered",
            topic=topic,
            offset=headers["x-dlq-source-offset"],
            attempts=attempts,
            error=headers["x-dlq-error"],
        )


def retry_then_dead_letter(sink: DeadLetterSink) -> Callable[..., BaseMiddleware]:
    """A FastStream middleware factory implementing the policy above."""

    class RetryThenDeadLetter(BaseMiddleware):
        async def consume_scope(
            self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
        ) -> Any:
            bind_correlation(correlation_id=msg.correlation_id, message_id=msg.message_id)
            attempt = 0
            while True:
                attempt += 1
                try:
                    return await call_next(msg)
                except (
                    PoisonMessage,
                    ValidationError,
                    UnicodeDecodeError,
                    JSONDecodeError,
                ) as error:
                    await sink.send(msg, error, attempt)
                    return None
                except Exception as error:
                    if attempt >= sink.policy.max_attempts:
                        await sink.send(msg, error, attempt)
                        return None
                    delay = sink.policy.delay(attempt)
                    log.warning(
                        "handler failed; retrying",
                        attempt=attempt,
                        delay_s=delay,
                        error=f"{type(error).__name__}: {error}",
                    )
                    await asyncio.sleep(delay)

    return RetryThenDeadLetter


def make_broker(
    settings: ServiceSettings, service_name: str, tracer_provider: TracerProvider | None = None
) -> KafkaBroker:
    """A ``KafkaBroker`` with telemetry, the retry/dead-letter policy and a safe producer."""
    sink = DeadLetterSink(
        group_id=service_name,
        policy=RetryPolicy(settings.kafka_max_attempts, settings.kafka_retry_base_delay_ms / 1000),
    )
    telemetry = KafkaTelemetryMiddleware(tracer_provider=tracer_provider)
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=service_name,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        acks="all",
        enable_idempotence=settings.kafka_idempotent_producer,
        # Topics are provisioned with their partition counts (calsync_platform.topics_admin);
        # a consumer must never create one on the fly with a single partition.
        allow_auto_create_topics=False,
        middlewares=(telemetry, retry_then_dead_letter(sink)),
    )
    sink.broker = broker
    return broker


def subscriber_options(service_name: str) -> dict[str, Any]:
    """Keyword arguments for every ``broker.subscriber``: the explicit delivery policy."""
    return {
        "group_id": service_name,
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "auto_offset_reset": "earliest",
    }
