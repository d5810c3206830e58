"""The connection test for Exchange Server: the address may be used (SSRF guard), Exchange
accepts the login (and the impersonation), and which calendar folders the mailbox has: its
Calendar and the calendars below it (``GetFolder``, then one ``FindFolder``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from exchangelib import DEEP, Account, FolderCollection
from exchangelib.folders import Calendar

from calsync_contracts.internal import CalendarInfo, ProbeRequest, ProbeResult, ProbeVerdict
from sync_core.errors import AuthError, ProviderError, TemporaryError, Unreachable
from sync_exchange.ews.session import Mailbox
from sync_runtime.ssrf import ForbiddenAddress, check_url

NOT_EWS = "The address answers, but not as Exchange Web Services (…/EWS/Exchange.asmx)."


async def probe_ews(
    request: ProbeRequest, allow: Sequence[str], timeout_s: float = 20.0
) -> ProbeResult:
    try:
        await check_url(request.server_url, allow)
    except ForbiddenAddress as refused:
        return ProbeResult(verdict=ProbeVerdict.FORBIDDEN_ADDRESS, message=str(refused))
    try:
        mailbox = Mailbox(request.server_url, request.credentials)
    except AuthError as refused:
        return ProbeResult(verdict=ProbeVerdict.WRONG_CREDENTIALS, message=f"{refused}.")
    try:
        async with asyncio.timeout(timeout_s):
            calendars = await mailbox.run(lambda: _calendars(mailbox.account))
    except TimeoutError:
        return _verdict(
            ProbeVerdict.UNREACHABLE, f"Exchange did not answer within {timeout_s:.0f} s."
        )
    except AuthError as refused:
        return _verdict(ProbeVerdict.WRONG_CREDENTIALS, f"{str(refused).capitalize()}.")
    except Unreachable:
        return _verdict(ProbeVerdict.UNREACHABLE, "Exchange cannot be reached: check the address.")
    except TemporaryError:  # throttled: the address is right, the moment is not
        return _verdict(ProbeVerdict.UNREACHABLE, "Exchange is busy: try again in a minute.")
    except ProviderError:
        return _verdict(ProbeVerdict.NOT_CALDAV, NOT_EWS)
    finally:
        mailbox.close()
    return ProbeResult(
        verdict=ProbeVerdict.OK,
        message="Connected to Exchange Server. Choose the calendars to synchronise.",
        calendars=calendars,
    )


def _verdict(verdict: ProbeVerdict, message: str) -> ProbeResult:
    return ProbeResult(verdict=verdict, message=message)


def _calendars(account: Account) -> list[CalendarInfo]:
    default = account.calendar
    below = FolderCollection(account=account, folders=[default]).find_folders(depth=DEEP)
    folders = [default] + [f for f in below if isinstance(f, Calendar)]
    return [
        CalendarInfo(id=f.id, name=str(f.name or "Calendar"), supports_sync_token=True)
        for f in folders
    ]
