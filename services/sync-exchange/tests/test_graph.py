"""Exchange Online through Graph, on the Microsoft stand-in: signing in (consent page, code
exchange with PKCE, the account's calendars), and what Graph does differently: delta tokens
expire, a grant can be revoked, throttling asks to wait, the organizer's cancel mails guests."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest
from pydantic import SecretStr

from calsync_contracts.internal import (
    AuthKind,
    Credentials,
    OAuthFinish,
    OAuthStart,
    ProbeRequest,
    ProbeVerdict,
)
from calsync_contracts.meeting import MeetingSnapshot, Participant, TimedSpan
from calsync_localinfra.microsoft import LocalMicrosoft
from sync_core.errors import AuthError, CursorInvalid, TemporaryError
from sync_core.ports import OutboundEvent
from sync_core.window import SyncWindow
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

REDIRECT = "https://127.0.0.1:9/oauth/callback"
NOW = datetime.now(UTC).replace(microsecond=0)
WINDOW = SyncWindow.around(NOW, 1, 3)


def registration(microsoft: LocalMicrosoft) -> tuple[AppRegistration, MicrosoftEndpoints]:
    return (
        AppRegistration(microsoft.client_id, microsoft.client_secret),
        MicrosoftEndpoints(microsoft.authority, microsoft.graph_endpoint, microsoft.ca_file),
    )


def consent(microsoft: LocalMicrosoft, url: str, email: str) -> httpx.URL:
    """The user on Microsoft's sign-in page: picks the account and allows."""
    query = httpx.URL(url).params
    form = {k: query[k] for k in ("redirect_uri", "client_id", "state", "code_challenge")}
    with httpx.Client(verify=microsoft.ssl_context()) as browser:
        page = browser.get(url)
        assert email in page.text
        answer = browser.post(url.split("?")[0], data=form | {"email": email, "decision": "allow"})
    return httpx.URL(answer.headers["location"])


async def test_signing_in_gives_a_refresh_token_and_the_calendars(
    microsoft: LocalMicrosoft,
) -> None:
    app, endpoints = registration(microsoft)
    email = f"u{uuid4().hex[:8]}@contoso.test"
    await asyncio.to_thread(microsoft.add_account, email)
    await asyncio.to_thread(microsoft.add_calendar, email, "Team")
    verifier = SecretStr(secrets.token_urlsafe(64))
    start = OAuthStart(redirect_uri=REDIRECT, state="sealed", code_verifier=verifier)
    started = oauth.start(start, app, endpoints)
    query = httpx.URL(started.authorization_url).params
    assert query["code_challenge_method"] == "S256"
    assert "offline_access" in query["scope"]
    back = await asyncio.to_thread(consent, microsoft, started.authorization_url, email)
    assert back.params["state"] == "sealed"
    finish = OAuthFinish(
        redirect_uri=REDIRECT, code=SecretStr(back.params["code"]), code_verifier=verifier
    )
    finished = await oauth.finish(finish, app, endpoints)
    assert finished.account == email

    credentials = Credentials(kind=AuthKind.OAUTH_REFRESH, secret=finished.refresh_token)
    result = await probe(ProbeRequest(server_url="", credentials=credentials), app, endpoints)
    assert result.verdict is ProbeVerdict.OK
    assert [c.name for c in result.calendars] == ["Calendar", "Team"]  # the default first
    with pytest.raises(oauth.SignInRefused):  # a code works once
        await oauth.finish(finish, app, endpoints)


@dataclass
class Account:
    email: str
    calendar_id: str
    port: GraphCalendar


@pytest.fixture
async def account(microsoft: LocalMicrosoft) -> AsyncIterator[Account]:
    app, endpoints = registration(microsoft)
    email = f"u{uuid4().hex[:8]}@contoso.test"
    calendar_id = await asyncio.to_thread(microsoft.add_account, email)
    token = await access_token(await asyncio.to_thread(microsoft.grant, email), app, endpoints)
    async with graph_http(token, endpoints) as http:
        yield Account(email, calendar_id, GraphCalendar(Graph(http)))


def meeting(subject: str, **more: object) -> MeetingSnapshot:
    start = NOW + timedelta(days=2)
    return MeetingSnapshot.model_validate(
        {
            "id": uuid4(),
            "tenant_id": uuid4(),
            "ical_uid": f"{uuid4()}@crm.test",
            "version": 1,
            "owner_user_id": uuid4(),
            "subject": subject,
            "time": TimedSpan(start=start, end=start + timedelta(hours=1), timezone="Europe/Oslo"),
            **more,
        }
    )


async def test_an_expired_delta_token_asks_for_a_full_listing(
    account: Account, microsoft: LocalMicrosoft
) -> None:
    listing = await account.port.list_window(account.calendar_id, WINDOW, {})
    assert listing.cursor is not None
    await asyncio.to_thread(microsoft.expire_delta_tokens, account.calendar_id)
    with pytest.raises(CursorInvalid):
        await account.port.changes_since(account.calendar_id, listing.cursor)


async def test_throttling_is_temporary_and_honours_retry_after(
    account: Account, microsoft: LocalMicrosoft
) -> None:
    await asyncio.to_thread(microsoft.fail_next, account.calendar_id, 429, "TooManyRequests", 1, 17)
    with pytest.raises(TemporaryError) as paused:
        await account.port.list_window(account.calendar_id, WINDOW, {})
    assert paused.value.retry_after_seconds == 17


async def test_a_revoked_grant_is_an_auth_error(microsoft: LocalMicrosoft) -> None:
    app, endpoints = registration(microsoft)
    email = f"u{uuid4().hex[:8]}@contoso.test"
    await asyncio.to_thread(microsoft.add_account, email)
    refresh = await asyncio.to_thread(microsoft.grant, email)
    await asyncio.to_thread(microsoft.revoke_account, email)
    with pytest.raises(AuthError):
        await access_token(refresh, app, endpoints)


async def test_a_cancellation_is_mailed_by_exchange_only_when_asked(
    account: Account, microsoft: LocalMicrosoft
) -> None:
    ann = [Participant(kind="external", email="ann@example.com", name="Ann")]
    quiet = await account.port.create(
        account.calendar_id, OutboundEvent(meeting("Quiet", participants=ann))
    )
    told = await account.port.create(
        account.calendar_id, OutboundEvent(meeting("Told", participants=ann))
    )
    await account.port.delete(account.calendar_id, quiet.external_id, quiet.version_tag)
    await account.port.delete(
        account.calendar_id, told.external_id, told.version_tag, notify_guests=True
    )
    mailed = [m["event"] for m in await asyncio.to_thread(microsoft.mailed)]
    assert told.external_id in mailed
    assert quiet.external_id not in mailed
    assert await account.port.fetch(account.calendar_id, told.external_id) is None
