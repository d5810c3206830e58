"""The background services crm-api runs beside its HTTP API: the outbox relay and the Kafka
consumers. Both can be scaled with the API: the relay elects one leader per database, the
consumers share partitions through their consumer group."""

from __future__ import annotations

import asyncio

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from calsync_platform.kafka import make_broker
from calsync_platform.relay import OutboxRelay, RelayConfig, plain_dsn
from calsync_platform.settings import ServiceSettings
from crm_api.adapters.database import SessionFactory
from crm_api.bootstrap import BackgroundService
from crm_api.bootstrap_state import AppState
from crm_api.messaging.consumers import SERVICE_NAME, register_consumers


class BrokerService:
    """Runs a FastStream broker's subscribers until stopped."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        await self._broker.start()
        try:
            await self._stopped.wait()
        finally:
            await self._broker.stop()

    def stop(self) -> None:
        self._stopped.set()


def build_broker(settings: ServiceSettings, sessions: SessionFactory | None) -> KafkaBroker:
    broker = make_broker(settings, SERVICE_NAME)
    if sessions is not None:
        register_consumers(broker, sessions)
    return broker


def background_services(state: AppState) -> list[BackgroundService]:
    settings = state.settings
    relay = OutboxRelay(
        RelayConfig(
            dsn=plain_dsn(settings.database_url),
            bootstrap_servers=settings.kafka_bootstrap_servers,
            idempotent_producer=settings.kafka_idempotent_producer,
        )
    )
    return [relay, BrokerService(build_broker(settings, state.sessions))]


class _AsyncAPIApp:
    def __init__(self, schema: AsyncAPI) -> None:
        self.schema = schema


def asyncapi_app() -> _AsyncAPIApp:
    """For scripts/export_asyncapi.py: the subscribers, without connecting anything."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    broker = build_broker(ServiceSettings(), async_sessionmaker())
    return _AsyncAPIApp(
        AsyncAPI(
            broker,
            title="crm-api",
            version="1.0.0",
            description="Applies provider changes and connection statuses.",
        )
    )
