"""The connection test for Google: can we act for the user (the refresh token still works), and
which calendars may we write to (``calendarList``, owner or writer access)."""

from __future__ import annotations

from calsync_contracts.internal import (
    AuthKind,
    CalendarInfo,
    ProbeRequest,
    ProbeResult,
    ProbeVerdict,
)
from sync_core.errors import AuthError, ProviderError, TemporaryError
from sync_google.api import GoogleEndpoints, OAuthClient, calendar_service, execute

WRITABLE = ("owner", "writer")


async def probe(
    request: ProbeRequest, client: OAuthClient, endpoints: GoogleEndpoints
) -> ProbeResult:
    credentials = request.credentials
    if credentials.kind is not AuthKind.OAUTH_REFRESH:
        return ProbeResult(
            verdict=ProbeVerdict.WRONG_CREDENTIALS,
            message="Google calendars are connected by signing in with Google.",
        )
    service = calendar_service(credentials.secret.get_secret_value(), client, endpoints)
    try:
        listed = await execute(service.calendarList().list())
    except AuthError:
        return ProbeResult(
            verdict=ProbeVerdict.WRONG_CREDENTIALS,
            message="Google no longer accepts this sign-in. Connect the calendar again.",
        )
    except (TemporaryError, ProviderError):
        return ProbeResult(
            verdict=ProbeVerdict.UNREACHABLE,
            message="Google could not be reached just now; try again in a moment.",
        )
    finally:
        service.close()
    calendars = [
        CalendarInfo(
            id=str(entry["id"]),
            name=str(entry.get("summaryOverride") or entry.get("summary") or entry["id"]),
            color=entry.get("backgroundColor"),
            supports_sync_token=True,
        )
        for entry in sorted(listed.get("items", []), key=lambda e: not e.get("primary"))
        if entry.get("accessRole") in WRITABLE
    ]
    if not calendars:
        return ProbeResult(
            verdict=ProbeVerdict.NO_CALENDAR,
            message="This Google account has no calendar we may add meetings to.",
        )
    return ProbeResult(
        verdict=ProbeVerdict.OK,
        message="Connected to Google Calendar. Choose the calendars to synchronise.",
        calendars=calendars,
    )
