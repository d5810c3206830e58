"""The connection test: answers within seconds with one verdict a user understands."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx

from calsync_contracts.internal import ProbeRequest, ProbeResult, ProbeVerdict
from sync_caldav.webdav.client import DavClient
from sync_core.errors import AuthError, NotACalendarServer, ProviderError, Unreachable
from sync_runtime.ssrf import ForbiddenAddress, check_url

MESSAGES = {
    ProbeVerdict.OK: "Connected: choose the calendars to synchronise.",
    ProbeVerdict.NO_SYNC_TOKEN: (
        "Connected, but this server does not support fast synchronisation (sync tokens): "
        "it will work, comparing every event, which is slower for large calendars."
    ),
    ProbeVerdict.UNREACHABLE: "The server cannot be reached: check the address.",
    ProbeVerdict.NOT_CALDAV: "The address answers, but not as a CalDAV calendar server.",
    ProbeVerdict.WRONG_CREDENTIALS: "The server refused the username or password.",
    ProbeVerdict.NO_CALENDAR: "The account has no calendar for events.",
}


async def probe(
    request: ProbeRequest,
    allow: Sequence[str],
    timeout_s: float = 8.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ProbeResult:
    try:
        await check_url(request.server_url, allow)
    except ForbiddenAddress as refused:
        return ProbeResult(verdict=ProbeVerdict.FORBIDDEN_ADDRESS, message=str(refused))
    try:
        async with asyncio.timeout(timeout_s):
            return await _probe(request, transport)
    except TimeoutError:
        return _result(
            ProbeVerdict.UNREACHABLE, f"The server did not answer within {timeout_s:.0f} s."
        )


async def _probe(request: ProbeRequest, transport: httpx.AsyncBaseTransport | None) -> ProbeResult:
    credentials = request.credentials
    async with DavClient(
        request.server_url, credentials, timeout=6.0, transport=transport
    ) as client:
        try:
            calendars = await client.discover_calendars()
        except Unreachable:
            return _result(ProbeVerdict.UNREACHABLE)
        except AuthError:
            return _result(ProbeVerdict.WRONG_CREDENTIALS)
        except (NotACalendarServer, ProviderError):
            return _result(ProbeVerdict.NOT_CALDAV)
    if not calendars:
        return _result(ProbeVerdict.NO_CALENDAR)
    fast = any(c.supports_sync_token for c in calendars)
    verdict = ProbeVerdict.OK if fast else ProbeVerdict.NO_SYNC_TOKEN
    return ProbeResult(verdict=verdict, message=MESSAGES[verdict], calendars=calendars)


def _result(verdict: ProbeVerdict, message: str | None = None) -> ProbeResult:
    return ProbeResult(verdict=verdict, message=message or MESSAGES[verdict])
