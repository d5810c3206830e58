"""The Google adapter on the Google stand-in, for what Google does differently from CalDAV:
a series' edited and cancelled instances are events of their own, sync tokens expire, and a
user can revoke our access. (What every adapter must do is in tests/adapters.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot, Participant, TimedSpan
from calsync_localinfra.google import LocalGoogle
from sync_core.errors import AuthError, CursorInvalid, ItemRefused, TemporaryError
from sync_core.items import occurrence_id
from sync_core.ports import OutboundEvent
from sync_core.window import SyncWindow
from sync_google.api import GoogleEndpoints, OAuthClient, calendar_service
from sync_google.calendar import GoogleCalendar

NOW = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
WINDOW = SyncWindow.around(NOW, 1, 3)
FIRST = NOW + timedelta(days=1)


@dataclass
class Account:
    email: str
    calendar_id: str
    port: GoogleCalendar
    theirs: Any  # another program's Calendar API client


@pytest.fixture
async def account(google: LocalGoogle) -> AsyncIterator[Account]:
    client = OAuthClient(google.client_id, google.client_secret)
    endpoints = GoogleEndpoints(google.api_endpoint, google.token_uri, google.auth_uri)
    email = f"u{uuid4().hex[:10]}@example.com"
    calendar_id = await asyncio.to_thread(google.add_account, email)
    ours = calendar_service(await asyncio.to_thread(google.grant, email), client, endpoints)
    theirs = calendar_service(await asyncio.to_thread(google.grant, email), client, endpoints)
    yield Account(email, calendar_id, GoogleCalendar(ours), theirs.events())
    ours.close()
    theirs.close()


def meeting(subject: str, start: datetime, **more: Any) -> MeetingSnapshot:
    """A CRM meeting of one hour."""
    return MeetingSnapshot(
        id=uuid4(),
        tenant_id=uuid4(),
        ical_uid=more.pop("ical_uid", f"{uuid4()}@crm.test"),
        version=1,
        owner_user_id=uuid4(),
        subject=subject,
        time=TimedSpan(start=start, end=start + timedelta(hours=1), timezone="UTC"),
        **more,
    )


async def run(request: Any) -> Any:
    return await asyncio.to_thread(request.execute)


async def weekly_series(account: Account) -> dict[str, Any]:
    body = {
        "summary": "Weekly sync",
        "start": {"dateTime": FIRST.isoformat(), "timeZone": "Europe/Copenhagen"},
        "end": {"dateTime": (FIRST + timedelta(hours=1)).isoformat(), "timeZone": "UTC"},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=6"],
    }
    return dict(await run(account.theirs.insert(calendarId=account.calendar_id, body=body)))


def instance_id(series: dict[str, Any], week: int) -> str:
    return f"{series['id']}_{(FIRST + timedelta(weeks=week)).strftime('%Y%m%dT%H%M%SZ')}"


async def test_a_series_comes_with_its_edited_occurrence_and_excluded_dates(
    account: Account,
) -> None:
    series = await weekly_series(account)
    events = account.theirs
    moved = {
        "summary": "Weekly sync (moved)",
        "start": {"dateTime": (FIRST + timedelta(weeks=1, hours=2)).isoformat()},
        "end": {"dateTime": (FIRST + timedelta(weeks=1, hours=3)).isoformat()},
    }
    await run(
        events.update(calendarId=account.calendar_id, eventId=instance_id(series, 1), body=moved)
    )
    await run(events.delete(calendarId=account.calendar_id, eventId=instance_id(series, 2)))

    listing = await account.port.list_window(account.calendar_id, WINDOW, {})
    by_id = {item.external_id: item for item in listing.items}
    edited = occurrence_id(series["id"], FIRST + timedelta(weeks=1))
    assert set(by_id) == {series["id"], edited}
    recurrence = by_id[series["id"]].fields.recurrence  # type: ignore[union-attr]
    assert recurrence is not None
    assert recurrence.exdates == [FIRST + timedelta(weeks=2)]
    assert by_id[edited].fields.subject == "Weekly sync (moved)"  # type: ignore[union-attr]
    assert by_id[edited].fields.recurrence_id == FIRST + timedelta(weeks=1)  # type: ignore[union-attr]

    # Cancelling one more occurrence changes the series as the engine sees it.
    assert listing.cursor is not None
    await run(events.delete(calendarId=account.calendar_id, eventId=instance_id(series, 3)))
    batch = await account.port.changes_since(account.calendar_id, listing.cursor)
    series_now = next(i for i in batch.changed if i.external_id == series["id"])
    assert series_now.version_tag != by_id[series["id"]].version_tag
    assert FIRST + timedelta(weeks=3) in series_now.fields.recurrence.exdates  # type: ignore[union-attr]
    again = await account.port.list_window(
        account.calendar_id, WINDOW, {series["id"]: series_now.version_tag}
    )
    assert again.unchanged == [series["id"]]


async def test_a_crm_edit_of_one_occurrence_makes_a_google_exception(account: Account) -> None:
    series = await weekly_series(account)
    original = FIRST + timedelta(weeks=2)
    external_id = occurrence_id(series["id"], original)
    start = original + timedelta(hours=4)
    edit = meeting(
        "Only this week",
        start,
        ical_uid=series["iCalUID"],
        participants=[Participant(kind="external", email="ann@example.com")],
        series_id=uuid4(),
        recurrence_id=original,
    )
    written = await account.port.update(
        account.calendar_id, external_id, OutboundEvent(edit), series["etag"]
    )
    assert written.external_id == external_id
    item = await account.port.fetch(account.calendar_id, external_id)
    assert item is not None
    assert item.fields is not None
    assert item.fields.subject == "Only this week"
    stored = await run(
        account.theirs.get(calendarId=account.calendar_id, eventId=instance_id(series, 2))
    )
    assert stored["recurringEventId"] == series["id"]

    await account.port.delete(account.calendar_id, external_id, written.version_tag)
    assert await account.port.fetch(account.calendar_id, external_id) is None


async def test_an_expired_sync_token_asks_for_a_full_listing(
    account: Account, google: LocalGoogle
) -> None:
    listing = await account.port.list_window(account.calendar_id, WINDOW, {})
    assert listing.cursor is not None
    await asyncio.to_thread(google.expire_sync_tokens, account.calendar_id)
    with pytest.raises(CursorInvalid):
        await account.port.changes_since(account.calendar_id, listing.cursor)


async def test_a_revoked_grant_is_an_auth_error(account: Account, google: LocalGoogle) -> None:
    await asyncio.to_thread(google.revoke_account, account.email)
    with pytest.raises(AuthError):
        await account.port.list_window(account.calendar_id, WINDOW, {})


async def test_listings_page_through_more_than_one_page(account: Account) -> None:
    """2,500 events per page at most; 2,600 make two pages, and the token is on the last."""
    day = FIRST.replace(hour=0)
    bodies = [
        {
            "summary": f"n{n}",
            "start": {"dateTime": (day + timedelta(minutes=n)).isoformat()},
            "end": {"dateTime": (day + timedelta(minutes=n + 1)).isoformat()},
        }
        for n in range(2600)
    ]
    await asyncio.to_thread(_insert_all, account, bodies)
    listing = await account.port.list_window(account.calendar_id, WINDOW, {})
    assert listing.size == 2600
    assert listing.cursor is not None
    idle = await account.port.changes_since(account.calendar_id, listing.cursor)
    assert idle.changed == []


def _insert_all(account: Account, bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        account.theirs.insert(calendarId=account.calendar_id, body=body).execute()


@pytest.mark.parametrize(
    ("status", "reason", "retry_after"),
    [
        (403, "rateLimitExceeded", 0),
        (403, "userRateLimitExceeded", 0),
        (429, "rateLimitExceeded", 30),
        (503, "backendError", 0),
    ],
)
async def test_rate_limits_and_outages_are_temporary(
    account: Account, google: LocalGoogle, status: int, reason: str, retry_after: int
) -> None:
    """Google's "Handle API errors": back off on 403 rate limits, 429 and 5xx, honouring
    Retry-After; the pass pauses, the connection is not failed for good."""
    await asyncio.to_thread(google.fail_next, account.calendar_id, status, reason, 1, retry_after)
    with pytest.raises(TemporaryError) as paused:
        await account.port.list_window(account.calendar_id, WINDOW, {})
    assert paused.value.retry_after_seconds == (retry_after or None)
    listing = await account.port.list_window(account.calendar_id, WINDOW, {})  # then it works
    assert listing.cursor is not None


async def test_a_forbidden_write_is_one_refused_item(account: Account, google: LocalGoogle) -> None:
    """403 for another reason (no write access to this calendar): that item, not the pass."""
    await asyncio.to_thread(google.fail_next, account.calendar_id, 403, "forbidden", 1)
    start = FIRST + timedelta(days=1)
    m = meeting("Refused", start)
    with pytest.raises(ItemRefused):
        await account.port.create(account.calendar_id, OutboundEvent(m))


async def test_an_update_keeps_what_other_programs_stored_in_the_event(account: Account) -> None:
    start = FIRST + timedelta(days=2)
    m = meeting("Ours", start)
    written = await account.port.create(account.calendar_id, OutboundEvent(m))
    theirs = {"colorId": "5", "reminders": {"useDefault": False, "overrides": []}}
    patched = await run(
        account.theirs.patch(
            calendarId=account.calendar_id, eventId=written.external_id, body=theirs
        )
    )
    moved = m.model_copy(update={"version": 2, "subject": "Ours, moved"})
    await account.port.update(
        account.calendar_id, written.external_id, OutboundEvent(moved), patched["etag"]
    )
    stored = await run(
        account.theirs.get(calendarId=account.calendar_id, eventId=written.external_id)
    )
    assert stored["summary"] == "Ours, moved"
    assert stored["colorId"] == "5"
    assert stored["reminders"] == theirs["reminders"]


async def test_a_meeting_whose_event_was_deleted_in_google_can_be_written_again(
    account: Account,
) -> None:
    """Google never frees a deleted event's id: the next create of that meeting (revived in
    the CRM, or edited after Google's deletion) brings the event back instead of failing the
    connection's every pass."""
    m = meeting("Back again", FIRST + timedelta(days=3))
    first = await account.port.create(account.calendar_id, OutboundEvent(m))
    await run(account.theirs.delete(calendarId=account.calendar_id, eventId=first.external_id))
    assert await account.port.fetch(account.calendar_id, first.external_id) is None
    again = await account.port.create(account.calendar_id, OutboundEvent(m))
    assert again.external_id == first.external_id
    item = await account.port.fetch(account.calendar_id, first.external_id)
    assert item is not None
    assert item.fields is not None
    assert item.fields.subject == "Back again"


async def test_an_outage_of_the_token_endpoint_is_temporary(
    account: Account, google: LocalGoogle
) -> None:
    """Only a refusal (invalid_grant) asks the user to reconnect; a 503 is retried."""
    service = calendar_service(
        await asyncio.to_thread(google.grant, account.email),
        OAuthClient(google.client_id, google.client_secret),
        GoogleEndpoints(google.api_endpoint, google.token_uri, google.auth_uri),
    )
    await asyncio.to_thread(google.fail_token_endpoint, 10)  # google-auth retries a few times
    try:
        with pytest.raises(TemporaryError):
            await GoogleCalendar(service).list_window(account.calendar_id, WINDOW, {})
    finally:
        await asyncio.to_thread(google.fail_token_endpoint, 0)  # the stand-in is shared
        service.close()


async def test_a_meeting_can_switch_between_timed_and_all_day(account: Account) -> None:
    """events.patch merges start/end at Google: the other kind's fields must be cleared."""
    m = meeting("Switching", FIRST + timedelta(days=4))
    written = await account.port.create(account.calendar_id, OutboundEvent(m))
    day = (FIRST + timedelta(days=4)).date()
    whole_day = m.model_copy(
        update={"version": 2, "time": AllDaySpan(start_date=day, end_date=day + timedelta(days=1))}
    )
    second = await account.port.update(
        account.calendar_id, written.external_id, OutboundEvent(whole_day), written.version_tag
    )
    item = await account.port.fetch(account.calendar_id, written.external_id)
    assert item is not None
    assert item.fields is not None
    assert item.fields.time == whole_day.time
    await account.port.update(
        account.calendar_id, written.external_id, OutboundEvent(m), second.version_tag
    )
    item = await account.port.fetch(account.calendar_id, written.external_id)
    assert item is not None
    assert item.fields is not None
    assert item.fields.time == m.time


async def test_a_crm_edit_keeps_the_room_and_the_guests_answers(account: Account) -> None:
    ann = Participant(kind="external", email="ann@example.com")
    m = meeting("With a room", FIRST + timedelta(days=5), participants=[ann])
    written = await account.port.create(account.calendar_id, OutboundEvent(m))
    attendees = [
        {"email": "ann@example.com", "responseStatus": "accepted"},
        {"email": "room-4@resource.example.com", "resource": True, "responseStatus": "accepted"},
    ]
    patched = await run(
        account.theirs.patch(
            calendarId=account.calendar_id,
            eventId=written.external_id,
            body={"attendees": attendees},
        )
    )
    moved = m.model_copy(update={"version": 2, "subject": "With a room, moved"})
    await account.port.update(
        account.calendar_id, written.external_id, OutboundEvent(moved), patched["etag"]
    )
    stored = await run(
        account.theirs.get(calendarId=account.calendar_id, eventId=written.external_id)
    )
    assert stored["summary"] == "With a room, moved"
    by_email = {a["email"]: a for a in stored["attendees"]}
    assert by_email["ann@example.com"]["responseStatus"] == "accepted"
    assert by_email["room-4@resource.example.com"]["resource"] is True


async def test_a_full_listing_sees_cancelled_occurrences_beyond_the_window(
    account: Account,
) -> None:
    """The series' excluded dates must not depend on which path read it (full or incremental):
    else occurrences deleted in Google come back after a full sync."""
    body = {
        "summary": "Long series",
        "start": {"dateTime": FIRST.isoformat()},
        "end": {"dateTime": (FIRST + timedelta(hours=1)).isoformat()},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=40"],
    }
    series = await run(account.theirs.insert(calendarId=account.calendar_id, body=body))
    far = FIRST + timedelta(weeks=30)  # past the window's three months
    await run(
        account.theirs.delete(
            calendarId=account.calendar_id,
            eventId=f"{series['id']}_{far.strftime('%Y%m%dT%H%M%SZ')}",
        )
    )
    listing = await account.port.list_window(account.calendar_id, WINDOW, {})
    [item] = [i for i in listing.items if i.external_id == series["id"]]
    assert item.fields is not None
    assert item.fields.recurrence is not None
    assert item.fields.recurrence.exdates == [far]
    fetched = await account.port.fetch(account.calendar_id, series["id"])
    assert fetched is not None
    assert fetched.version_tag == item.version_tag


async def test_google_mails_the_cancellation_only_when_asked(
    account: Account, google: LocalGoogle
) -> None:
    """When Google sends a tenant's invitations it must send the cancellation too; when our
    notifier does, Google stays silent (never both: Cal.com #7735)."""
    quiet = await account.port.create(
        account.calendar_id, OutboundEvent(meeting("Quiet", FIRST + timedelta(days=6)))
    )
    told = await account.port.create(
        account.calendar_id, OutboundEvent(meeting("Told", FIRST + timedelta(days=6)))
    )
    await account.port.delete(account.calendar_id, quiet.external_id, quiet.version_tag)
    await account.port.delete(
        account.calendar_id, told.external_id, told.version_tag, notify_guests=True
    )
    mailed = [m["event"] for m in await asyncio.to_thread(google.mailed)]
    assert told.external_id in mailed
    assert quiet.external_id not in mailed
