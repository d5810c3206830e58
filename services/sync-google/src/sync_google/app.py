"""Composition root of sync-google: the Google adapter plugged into the shared sync runtime,
plus the two OAuth steps crm-api calls while a user connects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faststream.asgi import AsgiFastStream

from calsync_contracts import Provider
from calsync_contracts.events import ConnectionConfig
from calsync_contracts.internal import (
    Credentials,
    OAuthFinish,
    OAuthFinished,
    OAuthStart,
    OAuthStarted,
    ProbeRequest,
    ProbeResult,
)
from sync_core.errors import AuthError
from sync_core.ports import CalendarPort
from sync_google import oauth
from sync_google.api import GoogleEndpoints, OAuthClient, calendar_service
from sync_google.calendar import GoogleCalendar
from sync_google.probe import probe
from sync_google.push import WEBHOOK_PATH, read_notification
from sync_google.settings import Settings
from sync_runtime.passes import CalendarFactory
from sync_runtime.push import PushConfig
from sync_runtime.service import SignIn, build_sync_service

SERVICE_NAME = "sync-google"


def google_calendars(client: OAuthClient, endpoints: GoogleEndpoints) -> CalendarFactory:
    @asynccontextmanager
    async def open_calendar(
        config: ConnectionConfig, credentials: Credentials
    ) -> AsyncIterator[CalendarPort]:
        if not credentials.secret.get_secret_value():
            raise AuthError("the connection has no Google authorisation: connect it again")
        service = calendar_service(credentials.secret.get_secret_value(), client, endpoints)
        try:
            yield GoogleCalendar(service)
        finally:
            service.close()

    return open_calendar


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    settings = settings or Settings()  # from the environment
    client, endpoints = settings.oauth_client, settings.endpoints
    token = settings.internal_api_token.get_secret_value()

    async def test_connection(request: ProbeRequest) -> ProbeResult:
        return await probe(request, client, endpoints)

    async def oauth_start(request: OAuthStart) -> OAuthStarted:
        return oauth.start(request, client, endpoints)

    async def oauth_finish(request: OAuthFinish) -> OAuthFinished:
        return await oauth.finish(request, client, endpoints)

    push = PushConfig(
        address=settings.google_push_url,
        key=token.encode(),
        path=WEBHOOK_PATH,
        read=read_notification,
    )
    return build_sync_service(
        settings,
        Provider.GOOGLE,
        SERVICE_NAME,
        google_calendars(client, endpoints),
        test_connection,
        SignIn(oauth_start, oauth_finish),
        push,
    )
