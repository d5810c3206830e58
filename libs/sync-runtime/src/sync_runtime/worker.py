"""The worker every replica runs: claims due connections under a lease, runs their passes
(bounded in parallel), renews leases while a long pass runs, publishes connection status.

Wakes every ``tick_seconds`` and at once when a subscriber nudges it (a sync request or a CRM
change arrived), so a page load gets a pass within a moment and bursts coalesce into one pass.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from calsync_contracts import Origin, Provider
from calsync_contracts.events import ConnectionState, ConnectionStatus, ConnectionStatusChanged
from calsync_platform.logs import get_logger
from calsync_platform.publishing import publish_event
from sync_core.errors import ProviderError
from sync_core.health import Health, failed, started
from sync_runtime.passes import PassDeps, next_poll, run_pass
from sync_runtime.settings import SyncServiceSettings
from sync_store.registry import ClaimedConnection

log = get_logger(__name__)


class Worker:
    def __init__(self, settings: SyncServiceSettings, deps: PassDeps, provider: Provider) -> None:
        self._settings = settings
        self._deps = deps
        self._provider = provider
        self._lease = timedelta(seconds=settings.lease_seconds)
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None

    def nudge(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="sync-worker")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self._claim_and_start()
            except Exception:  # the loop must survive a database or broker hiccup
                log.exception("worker tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.tick_seconds)
            self._wake.clear()

    async def _claim_and_start(self) -> None:
        free = self._settings.max_parallel_connections - len(self._running)
        if free <= 0:
            return
        claimed = await self._deps.registry.claim_due(self._settings.worker_id, self._lease, free)
        for connection in claimed:
            task = asyncio.create_task(self._sync(connection), name=f"sync-{connection.id}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _sync(self, claimed: ClaimedConnection) -> None:
        renewing = asyncio.create_task(self._renew(claimed))
        try:
            if claimed.requested:
                await self._publish(claimed, started(claimed.health))
            try:
                health = await run_pass(claimed, self._deps)
            except Exception:  # a bug must not leave the connection leased and silent
                log.exception("sync pass crashed", connection_id=str(claimed.id))
                health = failed(
                    claimed.health,
                    ProviderError("an internal error stopped the synchronisation; retrying"),
                    self._deps.clock(),
                    self._deps.first_pause,
                )
            when = next_poll(claimed.config, self._deps.clock())
            await self._deps.registry.finish(claimed.id, self._settings.worker_id, health, when)
            if claimed.requested or _changed(claimed.health, health):
                await self._publish(claimed, health)
        except Exception:
            log.exception("could not record a sync pass", connection_id=str(claimed.id))
        finally:
            renewing.cancel()

    async def _renew(self, claimed: ClaimedConnection) -> None:
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            await self._deps.registry.renew(claimed.id, self._settings.worker_id, self._lease)

    async def _publish(self, claimed: ClaimedConnection, health: Health) -> None:
        event = ConnectionStatusChanged(
            tenant_id=claimed.tenant_id,
            origin=Origin.from_connection(claimed.id, self._provider),
            payload=ConnectionStatus(
                connection_id=claimed.id,
                provider=self._provider,
                user_id=claimed.config.user_id,
                state=health.state,
                message=health.message,
                last_success_at=health.last_success_at,
                retry_at=health.retry_at,
                observed_at=self._deps.clock(),
            ),
        )
        await publish_event(self._deps.broker, event)


def _changed(before: Health, after: Health) -> bool:
    if before.state is ConnectionState.SYNCING:
        return True
    return (before.state, before.message) != (after.state, after.message)
