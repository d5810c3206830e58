"""The connection test for Exchange Online: can we act for the user (the refresh token still
works), and which calendars may we write to (``GET /me/calendars``, ``canEdit``)."""

from __future__ import annotations

from calsync_contracts.internal import (
    AuthKind,
    CalendarInfo,
    ProbeRequest,
    ProbeResult,
    ProbeVerdict,
)
from sync_core.errors import AuthError, ProviderError
from sync_exchange.graph.client import (
    AppRegistration,
    Graph,
    MicrosoftEndpoints,
    access_token,
    graph_http,
)


async def probe(
    request: ProbeRequest, app: AppRegistration, endpoints: MicrosoftEndpoints
) -> ProbeResult:
    credentials = request.credentials
    if credentials.kind is not AuthKind.OAUTH_REFRESH:
        return ProbeResult(
            verdict=ProbeVerdict.WRONG_CREDENTIALS,
            message="Exchange Online calendars are connected by signing in with Microsoft.",
        )
    try:
        token = await access_token(credentials.secret.get_secret_value(), app, endpoints)
        async with graph_http(token, endpoints) as http:
            listed = await Graph(http).call("GET", "me/calendars")
    except AuthError:
        return ProbeResult(
            verdict=ProbeVerdict.WRONG_CREDENTIALS,
            message="Microsoft no longer accepts this sign-in. Connect the calendar again.",
        )
    except ProviderError:
        return ProbeResult(
            verdict=ProbeVerdict.UNREACHABLE,
            message="Microsoft could not be reached just now; try again in a moment.",
        )
    calendars = [
        CalendarInfo(
            id=str(entry["id"]),
            name=str(entry.get("name") or entry["id"]),
            color=entry.get("hexColor") or None,
            supports_sync_token=True,
        )
        for entry in sorted(listed.get("value", []), key=lambda e: not e.get("isDefaultCalendar"))
        if entry.get("canEdit")
    ]
    if not calendars:
        return ProbeResult(
            verdict=ProbeVerdict.NO_CALENDAR,
            message="This Microsoft account has no calendar we may add meetings to.",
        )
    return ProbeResult(
        verdict=ProbeVerdict.OK,
        message="Connected to Exchange Online. Choose the calendars to synchronise.",
        calendars=calendars,
    )
