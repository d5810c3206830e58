"""Composition root of sync-exchange: two adapters plugged into the shared sync runtime, chosen
per connection by how it signs in. Exchange Online (Microsoft Graph) connections hold a
Microsoft refresh token, and crm-api calls the two sign-in steps while a user connects;
Exchange Server (EWS) connections hold a login and password (ADR 13)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faststream.asgi import AsgiFastStream

from calsync_contracts import Provider
from calsync_contracts.events import ConnectionConfig
from calsync_contracts.internal import (
    AuthKind,
    Credentials,
    OAuthFinish,
    OAuthFinished,
    OAuthStart,
    OAuthStarted,
    ProbeRequest,
    ProbeResult,
)
from sync_core.errors import AuthError, NotACalendarServer
from sync_core.ports import CalendarPort
from sync_exchange import oauth
from sync_exchange.ews.calendar import EwsCalendar
from sync_exchange.ews.probe import probe_ews
from sync_exchange.ews.session import Mailbox
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
from sync_runtime.ssrf import ForbiddenAddress, check_url

SERVICE_NAME = "sync-exchange"


def exchange_calendars(
    app: AppRegistration, endpoints: MicrosoftEndpoints, allow: tuple[str, ...]
) -> CalendarFactory:
    @asynccontextmanager
    async def open_calendar(
        config: ConnectionConfig, credentials: Credentials
    ) -> AsyncIterator[CalendarPort]:
        if credentials.kind is AuthKind.OAUTH_REFRESH:
            async with _graph(credentials, app, endpoints) as calendar:
                yield calendar
        else:
            async with _ews(config, credentials, allow) as calendar:
                yield calendar

    return open_calendar


@asynccontextmanager
async def _graph(
    credentials: Credentials, app: AppRegistration, endpoints: MicrosoftEndpoints
) -> AsyncIterator[CalendarPort]:
    if not credentials.secret.get_secret_value():
        raise AuthError("the connection has no Microsoft authorisation: connect it again")
    token = await access_token(credentials.secret.get_secret_value(), app, endpoints)
    async with graph_http(token, endpoints) as http:
        yield GraphCalendar(Graph(http))


@asynccontextmanager
async def _ews(
    config: ConnectionConfig, credentials: Credentials, allow: tuple[str, ...]
) -> AsyncIterator[CalendarPort]:
    server_url = config.server_url or ""
    try:
        await check_url(server_url, allow)  # again: the name may resolve elsewhere by now
    except ForbiddenAddress as refused:
        raise NotACalendarServer(str(refused)) from refused
    mailbox = Mailbox(server_url, credentials)
    try:
        yield EwsCalendar(mailbox)
    finally:
        mailbox.close()


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    settings = settings or Settings()  # from the environment
    app, endpoints = settings.app_registration, settings.endpoints
    token = settings.internal_api_token.get_secret_value()

    allow = tuple(settings.ssrf_allow)

    async def test_connection(request: ProbeRequest) -> ProbeResult:
        if request.credentials.kind in (AuthKind.BASIC, AuthKind.DIGEST):
            return await probe_ews(request, allow)
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
        exchange_calendars(app, endpoints, allow),
        test_connection,
        SignIn(sign_in_start, sign_in_finish),
        push,
    )
