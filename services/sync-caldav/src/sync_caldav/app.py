"""Composition root of sync-caldav: the CalDAV adapter plugged into the shared sync runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from faststream.asgi import AsgiFastStream

from calsync_contracts import Provider
from calsync_contracts.events import ConnectionConfig
from calsync_contracts.internal import Credentials, ProbeRequest, ProbeResult
from sync_caldav.calendar import CalDavCalendar
from sync_caldav.webdav.client import DavClient
from sync_caldav.webdav.probe import probe
from sync_core.errors import NotACalendarServer
from sync_core.ports import CalendarPort
from sync_runtime.passes import CalendarFactory
from sync_runtime.service import build_sync_service
from sync_runtime.settings import SyncServiceSettings
from sync_runtime.ssrf import ForbiddenAddress, check_url

SERVICE_NAME = "sync-caldav"


def caldav_calendars(allow: Sequence[str]) -> CalendarFactory:
    @asynccontextmanager
    async def open_calendar(
        config: ConnectionConfig, credentials: Credentials
    ) -> AsyncIterator[CalendarPort]:
        if not config.server_url:
            raise NotACalendarServer("the connection has no server URL")
        try:
            await check_url(config.server_url, allow)
        except ForbiddenAddress as refused:
            raise NotACalendarServer(str(refused)) from refused
        async with DavClient(config.server_url, credentials) as client:
            yield CalDavCalendar(client)

    return open_calendar


def create_app(settings: SyncServiceSettings | None = None) -> AsgiFastStream:
    settings = settings or SyncServiceSettings()  # from the environment
    allow = tuple(settings.ssrf_allow)

    async def test_connection(request: ProbeRequest) -> ProbeResult:
        return await probe(request, allow)

    return build_sync_service(
        settings, Provider.CALDAV, SERVICE_NAME, caldav_calendars(allow), test_connection
    )
