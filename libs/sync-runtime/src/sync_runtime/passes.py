"""One sync pass over one claimed connection: push the pending CRM changes, pull the provider's
changes, and settle the connection's health. Provider-neutral: the adapter comes from the
service's ``CalendarFactory``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from calsync_contracts.events import ConnectionConfig
from calsync_contracts.internal import Credentials
from calsync_platform.logs import get_logger
from sync_core.context import ConnectionContext
from sync_core.engine import PullReport, SyncEngine
from sync_core.errors import ProviderError
from sync_core.health import Health, failed, succeeded
from sync_core.ports import CalendarPort
from sync_core.window import SyncWindow
from sync_runtime.changes import crm_change
from sync_runtime.crm_client import CrmClient
from sync_runtime.push import PushConfig, keep_channels
from sync_runtime.sink import KafkaChangeSink
from sync_store.link_store import PgLinkStore
from sync_store.push_channels import PushChannelStore
from sync_store.registry import ClaimedConnection, Registry

CalendarFactory = Callable[
    [ConnectionConfig, Credentials], AbstractAsyncContextManager[CalendarPort]
]
"""Opens the provider adapter for one pass (and closes its HTTP client afterwards)."""

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PassDeps:
    db: AsyncEngine
    registry: Registry
    broker: KafkaBroker
    crm: CrmClient
    open_calendar: CalendarFactory
    first_pause: timedelta = timedelta(minutes=1)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    push: PushConfig | None = None
    channels: PushChannelStore | None = None


async def run_pass(claimed: ClaimedConnection, deps: PassDeps) -> Health:
    now = deps.clock()
    config = claimed.config
    if not config.calendars:
        return failed(
            claimed.health, ProviderError("no calendar is selected"), now, deps.first_pause
        )
    window = SyncWindow.around(now, config.sync_window_months_back, config.sync_window_months_ahead)
    ctx = ConnectionContext.of(claimed.tenant_id, config, window)
    links = PgLinkStore(deps.db, claimed.id)
    try:
        report = await _sync(claimed, ctx, links, deps)
    except ProviderError as error:
        log.warning("sync pass failed", connection_id=str(claimed.id), error=type(error).__name__)
        return failed(claimed.health, error, deps.clock(), deps.first_pause)
    bad = await links.bad_item_errors()
    log.info(
        "sync pass done",
        connection_id=str(claimed.id),
        full=report.full,
        published=report.published,
        pushed=report.pushed,
        bad_items=len(bad),
    )
    return succeeded(claimed.health, deps.clock(), _note(bad))


async def _sync(
    claimed: ClaimedConnection, ctx: ConnectionContext, links: PgLinkStore, deps: PassDeps
) -> PullReport:
    credentials = await deps.crm.credentials(claimed.id)
    sink = KafkaChangeSink(deps.broker, claimed.tenant_id, uuid4())
    async with deps.open_calendar(claimed.config, credentials) as calendar:
        engine = SyncEngine(ctx, calendar, links, sink, deps.crm.reader(claimed.id), deps.clock)
        await engine.publish_pending()
        for pending in await deps.registry.pending(claimed.id):
            await engine.push(crm_change(pending.change))
            await deps.registry.done(claimed.id, pending)
        report = await engine.pull(full=claimed.full_requested)
        if deps.push is not None and deps.channels is not None:
            await keep_channels(
                calendar, deps.channels, deps.push, claimed.id, ctx.calendars, deps.clock()
            )
        return report


def _note(bad_items: list[str]) -> str:
    if not bad_items:
        return ""
    shown = "; ".join(bad_items[:3])
    more = f" (and {len(bad_items) - 3} more)" if len(bad_items) > 3 else ""
    return f"{len(bad_items)} calendar item(s) could not be synchronised: {shown}{more}"


def next_poll(config: ConnectionConfig, now: datetime) -> datetime:
    return now + timedelta(seconds=config.sync_interval_seconds)
