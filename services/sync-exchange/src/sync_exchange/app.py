"""Composition root of sync-exchange: the Exchange Online (Microsoft Graph) adapter plugged into
the shared sync runtime, plus the two sign-in steps crm-api calls while a user connects.
Exchange Server on-premises (EWS) is not served yet: its connections are refused by the probe."""

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
from sync_exchange import oauth
from sync_exchange.graph.calendar import GraphCalendar
from sync_exchange.graph.client import (
    AppRegistration,
    Graph,
    MicrosoftEndpoints,
    access_token,
    graph_http,
)
from sync_exchange.probe import probe
from sync_exchange.push import WEBHOOK_PATH, read_notification
from sync_exchange.settings import Settings
from sync_runtime.passes import CalendarFactory
from sync_runtime.push import PushConfig
from sync_runtime.service import SignIn, build_sync_service

SERVICE_NAME = "sync-exchange"


def graph_calendars(app: AppRegistration, endpoints: MicrosoftEndpoints) -> CalendarFactory:
    @asynccontextmanager
    async def open_calendar(
        config: ConnectionConfig, credentials: Credentials
    ) -> AsyncIterator[CalendarPort]:
        if not credentials.secret.get_secret_value():
            raise AuthError("the connection has no Microsoft authorisation: connect it again")
        token = await access_token(credentials.secret.get_secret_value(), app, endpoints)
        async with graph_http(token, endpoints) as http:
            yield GraphCalendar(Graph(http))

    return open_calendar


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    settings = settings or Settings()  # from the environment
    app, endpoints = settings.app_registration, settings.endpoints
    token = settings.internal_api_token.get_secret_value()

    async def test_connection(request: ProbeRequest) -> ProbeResult:
        return await probe(request, app, endpoints)

    async def sign_in_start(request: OAuthStart) -> OAuthStarted:
        return oauth.start(request, app, endpoints)

    async def sign_in_finish(request: OAuthFinish) -> OAuthFinished:
        return await oauth.finish(request, app, endpoints)

    push = PushConfig(
        address=settings.microsoft_push_url,
        key=token.encode(),
        path=WEBHOOK_PATH,
        read=read_notification,
    )
    return build_sync_service(
        settings,
        Provider.EXCHANGE,
        SERVICE_NAME,
        graph_calendars(app, endpoints),
        test_connection,
        SignIn(sign_in_start, sign_in_finish),
        push,
    )
