"""Builds a sync service around its provider adapter: broker, subscribers, worker, probe route.
Each provider's ``app.py`` is then a composition root of a few lines."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from faststream.asgi import AsgiFastStream
from sqlalchemy.ext.asyncio import create_async_engine

from calsync_contracts import Provider
from calsync_contracts.events import ConnectionStatusChanged, ProviderChangeObserved
from calsync_contracts.internal import OAuthFinish, OAuthFinished, OAuthStart, OAuthStarted
from calsync_platform.kafka import make_broker
from calsync_platform.logs import get_logger
from calsync_platform.publishing import declare_publisher
from calsync_platform.service_app import build_service_app
from sync_runtime.crm_client import CrmClient
from sync_runtime.passes import CalendarFactory, PassDeps
from sync_runtime.probe_route import Probe, internal_route, probe_route
from sync_runtime.push import PushConfig, webhook_route
from sync_runtime.settings import SyncServiceSettings
from sync_runtime.subscribers import register_subscribers
from sync_runtime.worker import Worker
from sync_store.push_channels import PushChannelStore
from sync_store.registry import Registry

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SignIn:
    """A provider's sign-in steps (libs/contracts ``internal.py``): the consent page's address,
    and the code's exchange for a refresh token."""

    start: Callable[[OAuthStart], Awaitable[OAuthStarted]]
    finish: Callable[[OAuthFinish], Awaitable[OAuthFinished]]


def build_sync_service(
    settings: SyncServiceSettings,
    provider: Provider,
    service_name: str,
    open_calendar: CalendarFactory,
    probe: Probe,
    sign_in: SignIn | None = None,
    push: PushConfig | None = None,
) -> AsgiFastStream:
    """``sign_in``: the two OAuth steps of a provider connected by signing in (mounted as
    ``/internal/oauth/start`` and ``/finish`` for crm-api);
    ``push``: its push notifications (channels kept open after each pass, and their webhook)."""
    broker = make_broker(settings, service_name)
    declare_publisher(broker, ProviderChangeObserved)
    declare_publisher(broker, ConnectionStatusChanged)
    db = create_async_engine(settings.database_url, pool_size=10, pool_pre_ping=True)
    registry = Registry(db, provider)
    crm = CrmClient.create(settings.crm_api_url, settings.internal_api_token.get_secret_value())
    first_pause = timedelta(seconds=settings.retry_base_seconds)
    channels = PushChannelStore(db) if push is not None else None
    deps = PassDeps(
        db, registry, broker, crm, open_calendar, first_pause, push=push, channels=channels
    )
    worker = Worker(settings, deps, provider)
    register_subscribers(broker, provider, service_name, registry, crm, worker.nudge)
    app = build_service_app(broker, service_name, f"Two-way sync with {provider.value} calendars.")
    app.mount("/internal/probe", probe_route(probe, settings.internal_api_token.get_secret_value()))
    if sign_in is not None:
        token = settings.internal_api_token.get_secret_value()
        app.mount("/internal/oauth/start", internal_route(OAuthStart, sign_in.start, token))
        app.mount("/internal/oauth/finish", internal_route(OAuthFinish, sign_in.finish, token))
    if push is not None and channels is not None:

        async def request_sync(connection_id: UUID) -> None:
            await registry.request_sync(connection_id, full=False)
            worker.nudge()

        app.mount(push.path, webhook_route(channels, push, request_sync))

    @app.after_startup
    async def start_worker() -> None:
        await _catch_up(registry, crm, provider)
        worker.start()

    @app.on_shutdown
    async def stop_worker() -> None:
        await worker.stop()
        await crm.aclose()
        await db.dispose()

    return app


async def _catch_up(registry: Registry, crm: CrmClient, provider: Provider) -> None:
    """A cold start learns every connection from crm-api (events it missed are not lost)."""
    try:
        known = await crm.connections(provider)
    except Exception as error:  # crm-api may start later; sync requests adopt connections too
        log.warning("could not list connections from crm-api", error=type(error).__name__)
        return
    for tenant_id, config in known:
        await registry.apply_config(tenant_id, config, removed=False)
