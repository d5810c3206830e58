"""Exchange Online through Graph, on the Microsoft stand-in: signing in (consent page, code
exchange with PKCE, the account's calendars), and what Graph does differently: delta tokens
expire, a grant can be revoked, throttling asks to wait, the organizer's cancel mails guests."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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
from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot, Participant, TimedSpan
from calsync_localinfra.microsoft import LocalMicrosoft
from sync_core.errors import AuthError, CursorInvalid, PreconditionFailed, TemporaryError
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


async def outlook(microsoft: LocalMicrosoft, email: str) -> httpx.AsyncClient:
    """Another program of the user's (Outlook) with its own grant."""
    app, endpoints = registration(microsoft)
    token = await access_token(await asyncio.to_thread(microsoft.grant, email), app, endpoints)
    return graph_http(token, endpoints)


async def test_an_all_day_event_made_in_berlin_keeps_its_dates(
    account: Account, microsoft: LocalMicrosoft
) -> None:
    """Graph answers in UTC, where a Berlin all-day event starts the evening before."""
    async with await outlook(microsoft, account.email) as other:
        made = await other.post(
            f"me/calendars/{account.calendar_id}/events",
            json={
                "subject": "Fair",
                "isAllDay": True,
                "start": {"dateTime": "2026-12-15T00:00:00", "timeZone": "Europe/Berlin"},
                "end": {"dateTime": "2026-12-16T00:00:00", "timeZone": "Europe/Berlin"},
            },
        )
        assert made.status_code == 201, made.text
    item = await account.port.fetch(account.calendar_id, made.json()["id"])
    assert item is not None
    assert item.fields is not None
    assert item.fields.time == AllDaySpan(
        start_date=date(2026, 12, 15), end_date=date(2026, 12, 16)
    )


async def test_an_event_moved_out_of_the_window_is_changed_not_deleted(
    account: Account, microsoft: LocalMicrosoft
) -> None:
    """Graph reports it as @removed; only a deleted event is a deletion (sync-lessons §3)."""
    moved = await account.port.create(account.calendar_id, OutboundEvent(meeting("Moving")))
    gone = await account.port.create(account.calendar_id, OutboundEvent(meeting("Going")))
    listing = await account.port.list_window(account.calendar_id, WINDOW, {})
    assert listing.cursor is not None
    far = NOW + timedelta(days=800)
    async with await outlook(microsoft, account.email) as other:
        times = {
            "start": {"dateTime": far.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {
                "dateTime": (far + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                "timeZone": "UTC",
            },
        }
        assert (await other.patch(f"me/events/{moved.external_id}", json=times)).is_success
        assert (await other.delete(f"me/events/{gone.external_id}")).is_success
    batch = await account.port.changes_since(account.calendar_id, listing.cursor)
    assert batch.deleted == [gone.external_id]
    [item] = batch.changed
    assert item.external_id == moved.external_id


async def test_a_delta_round_from_an_earlier_day_starts_over(account: Account) -> None:
    """Its window is yesterday's: meetings entering today's window would be missed."""
    listing = await account.port.list_window(account.calendar_id, WINDOW, {})
    assert listing.cursor is not None
    tomorrow = GraphCalendar(account.port.graph, today=lambda: "20991231")
    with pytest.raises(CursorInvalid):
        await tomorrow.changes_since(account.calendar_id, listing.cursor)


async def test_a_cancellation_goes_out_only_for_an_unchanged_event_we_organise(
    account: Account, microsoft: LocalMicrosoft
) -> None:
    ann = [Participant(kind="external", email="ann@example.com")]
    edited = await account.port.create(
        account.calendar_id, OutboundEvent(meeting("Edited", participants=ann))
    )
    invited = await asyncio.to_thread(
        microsoft.put_raw,
        account.calendar_id,
        {
            "subject": "Their meeting",
            "isOrganizer": False,
            "attendees": [{"emailAddress": {"address": account.email}, "type": "required"}],
        },
    )
    async with await outlook(microsoft, account.email) as other:
        assert (
            await other.patch(f"me/events/{edited.external_id}", json={"subject": "Outlook edit"})
        ).is_success
    with pytest.raises(PreconditionFailed):  # edited in Outlook: the engine's merge decides
        await account.port.delete(
            account.calendar_id, edited.external_id, edited.version_tag, notify_guests=True
        )
    await account.port.delete(  # not ours to cancel: removed from this calendar, nobody mailed
        account.calendar_id, invited["id"], invited["@odata.etag"], notify_guests=True
    )
    assert await account.port.fetch(account.calendar_id, invited["id"]) is None
    assert invited["id"] not in [m["event"] for m in await asyncio.to_thread(microsoft.mailed)]


async def test_a_first_create_is_not_mistaken_for_a_retry(account: Account) -> None:
    """Exchange answers guests as not responded yet: the CRM's answers must not make the first
    write look like someone else's event (which the engine would import over the meeting)."""
    accepted = [Participant(kind="external", email="bo@example.com", response="accepted")]
    written = await account.port.create(
        account.calendar_id, OutboundEvent(meeting("Accepted already", participants=accepted))
    )
    assert written.version_tag


async def test_an_update_sends_only_what_changed_and_keeps_rooms_and_answers(
    account: Account, microsoft: LocalMicrosoft
) -> None:
    ann = [Participant(kind="external", email="ann@example.com")]
    m = meeting("Planning", participants=ann)
    written = await account.port.create(account.calendar_id, OutboundEvent(m))
    theirs = [
        {
            "emailAddress": {"address": "ann@example.com"},
            "type": "optional",
            "status": {"response": "accepted"},
        },
        {"emailAddress": {"address": "room-4@contoso.test"}, "type": "resource"},
    ]
    async with await outlook(microsoft, account.email) as other:
        answered = await other.patch(f"me/events/{written.external_id}", json={"attendees": theirs})
        assert answered.is_success
        before = answered.json()
        renamed = m.model_copy(update={"version": 2, "subject": "Planning, renamed"})
        await account.port.update(
            account.calendar_id, written.external_id, OutboundEvent(renamed), before["@odata.etag"]
        )
        after = (await other.get(f"me/events/{written.external_id}")).json()
    assert after["subject"] == "Planning, renamed"
    assert after["attendees"] == theirs  # not rewritten: no new invitations, answers kept
    assert after["start"] == before["start"]
