"""Subjects for the CalendarPort contract: each adapter on a fresh calendar, and a backdoor that
edits that calendar with an independent client, as a user's calendar program would (the
``caldav`` library on the CalDAV servers; Google's own client library, with another app's
grant, on the Google stand-in; plain Graph calls with another grant on the Microsoft one)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import caldav
import exchangelib
import httpx
import pytest
from exchangelib.folders import Calendar as CalendarFolder
from icalendar import Calendar, Event

from calsync_contracts.events import ProviderEventFields
from calsync_contracts.internal import Credentials
from calsync_contracts.meeting import AllDaySpan
from calsync_localinfra.ews import LocalExchangeServer
from calsync_localinfra.google import LocalGoogle
from calsync_localinfra.microsoft import LocalMicrosoft
from calsync_localinfra.radicale import LocalRadicale
from calsync_localinfra.xandikos import LocalXandikos
from sync_caldav.calendar import CalDavCalendar
from sync_caldav.webdav.client import DavClient
from sync_exchange.ews.calendar import EwsCalendar
from sync_exchange.ews.session import Mailbox
from sync_exchange.graph.calendar import GraphCalendar
from sync_exchange.graph.client import (
    AppRegistration,
    Graph,
    MicrosoftEndpoints,
    access_token,
    graph_http,
)
from sync_google.api import GoogleEndpoints, OAuthClient, calendar_service
from sync_google.calendar import GoogleCalendar

USER, PASSWORD = "contract", "contract-pw"


def plain_ical(fields: ProviderEventFields, uid: str) -> str:
    """An event as another calendar program writes it (built here, not by our mapping)."""
    event = Event()
    event.add("UID", uid)
    event.add("DTSTAMP", datetime.now(UTC))
    event.add("SUMMARY", fields.subject)
    if fields.location:
        event.add("LOCATION", fields.location)
    if fields.description:
        event.add("DESCRIPTION", fields.description)
    time = fields.time
    if isinstance(time, AllDaySpan):
        event.add("DTSTART", time.start_date)
        event.add("DTEND", time.end_date)
    else:
        event.add("DTSTART", time.start)
        event.add("DTEND", time.end)
    calendar = Calendar()
    calendar.add("PRODID", "-//other program//EN")
    calendar.add("VERSION", "2.0")
    calendar.add_component(event)
    return calendar.to_ical().decode()


# Accepted by the servers here, but no readable event: its only VEVENT lacks a start.
GARBAGE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VTODO\r\nUID:todo-{uid}\r\n"
    "DTSTAMP:20261122T100000Z\r\nSUMMARY:a task\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
)


class CalDavBackdoor:
    def __init__(self, calendar_url: str, username: str, password: str) -> None:
        self.client = caldav.DAVClient(url=calendar_url, username=username, password=password)
        self.calendar = self.client.calendar(url=calendar_url)
        self.calendar_url = calendar_url
        self.auth = (username, password)

    async def put(self, name: str, fields: ProviderEventFields, uid: str) -> str:
        saved = await asyncio.to_thread(self.calendar.save_event, plain_ical(fields, uid))
        return httpx.URL(str(saved.url)).path

    async def put_garbage(self, name: str) -> str:
        url = self.calendar_url + name
        response = await asyncio.to_thread(
            httpx.put,
            url,
            content=GARBAGE.format(uid=uuid4()),
            auth=self.auth,
            headers={"Content-Type": "text/calendar"},
        )
        assert response.status_code in (201, 204), response.text
        return httpx.URL(url).path

    def close(self) -> None:
        self.client.close()

    async def remove(self, external_id: str) -> None:
        url = str(httpx.URL(self.calendar_url).join(external_id))
        await asyncio.to_thread(httpx.delete, url, auth=self.auth)


SubjectFactory = Callable[[], AbstractAsyncContextManager[object]]


@pytest.fixture
def radicale_calendar_subject(radicale: LocalRadicale) -> SubjectFactory:
    from tests.adapters.test_calendar_port_contract import Subject

    radicale.add_user(USER, PASSWORD)

    @asynccontextmanager
    async def made() -> AsyncIterator[Subject]:
        calendar_url = radicale.make_calendar(USER, f"c{uuid4().hex[:12]}")
        credentials = Credentials(kind="basic", username=USER, secret=PASSWORD)
        backdoor = CalDavBackdoor(calendar_url, USER, PASSWORD)
        async with DavClient(radicale.url, credentials) as client:
            yield Subject(CalDavCalendar(client), calendar_url, backdoor)
        backdoor.close()

    return made


@pytest.fixture
def xandikos_calendar_subject(xandikos: LocalXandikos) -> SubjectFactory:
    from tests.adapters.test_calendar_port_contract import Subject

    @asynccontextmanager
    async def made() -> AsyncIterator[Subject]:
        calendar_url = xandikos.make_calendar(f"c{uuid4().hex[:12]}")
        credentials = Credentials(kind="basic", username="any", secret="any")
        backdoor = CalDavBackdoor(calendar_url, "any", "any")
        async with DavClient(xandikos.url, credentials) as client:
            yield Subject(CalDavCalendar(client), calendar_url, backdoor)
        backdoor.close()

    return made


class GoogleBackdoor:
    """Another program with its own grant, writing through Google's client library."""

    def __init__(self, google: LocalGoogle, calendar_id: str, service: object) -> None:
        self.google, self.calendar_id, self.events = google, calendar_id, service.events()  # type: ignore[attr-defined]

    async def put(self, name: str, fields: ProviderEventFields, uid: str) -> str:
        time = fields.time
        edges = (
            ({"date": time.start_date.isoformat()}, {"date": time.end_date.isoformat()})
            if isinstance(time, AllDaySpan)
            else ({"dateTime": time.start.isoformat()}, {"dateTime": time.end.isoformat()})
        )
        body = {"summary": fields.subject, "iCalUID": uid, "start": edges[0], "end": edges[1]}
        body |= {"location": fields.location, "description": fields.description}
        request = self.events.insert(calendarId=self.calendar_id, body=body)
        created = await asyncio.to_thread(request.execute)
        return str(created["id"])

    async def put_garbage(self, name: str) -> str:
        """An event with no start: Google refuses to store one, but imports and old clients
        have left such events behind, and the adapter must survive them."""
        event = {"id": uuid4().hex, "summary": "broken", "end": {"date": "2026-01-02"}}
        stored = await asyncio.to_thread(self.google.put_raw, self.calendar_id, event)
        return str(stored["id"])

    async def remove(self, external_id: str) -> None:
        request = self.events.delete(calendarId=self.calendar_id, eventId=external_id)
        await asyncio.to_thread(request.execute)


@pytest.fixture
def google_calendar_subject(google: LocalGoogle) -> SubjectFactory:
    from tests.adapters.test_calendar_port_contract import Subject

    client = OAuthClient(google.client_id, google.client_secret)
    endpoints = GoogleEndpoints(google.api_endpoint, google.token_uri, google.auth_uri)

    @asynccontextmanager
    async def made() -> AsyncIterator[Subject]:
        email = f"u{uuid4().hex[:10]}@example.com"
        await asyncio.to_thread(google.add_account, email)
        calendar_id = await asyncio.to_thread(google.add_calendar, email, "Work")
        ours = calendar_service(await asyncio.to_thread(google.grant, email), client, endpoints)
        theirs = calendar_service(await asyncio.to_thread(google.grant, email), client, endpoints)
        yield Subject(
            GoogleCalendar(ours), calendar_id, GoogleBackdoor(google, calendar_id, theirs)
        )
        ours.close()
        theirs.close()

    return made


class GraphBackdoor:
    """Another program of the user's (Outlook), writing through Graph with its own grant."""

    def __init__(
        self, microsoft: LocalMicrosoft, calendar_id: str, http: httpx.AsyncClient
    ) -> None:
        self.microsoft, self.calendar_id, self.http = microsoft, calendar_id, http

    async def put(self, name: str, fields: ProviderEventFields, uid: str) -> str:
        """Graph chooses an event's UID itself: ``uid`` cannot be kept."""
        time = fields.time
        if isinstance(time, AllDaySpan):
            edges = [f"{d.isoformat()}T00:00:00" for d in (time.start_date, time.end_date)]
        else:
            edges = [
                t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") for t in (time.start, time.end)
            ]
        body = {
            "subject": fields.subject,
            "body": {"contentType": "text", "content": fields.description},
            "location": {"displayName": fields.location},
            "isAllDay": isinstance(time, AllDaySpan),
            "start": {"dateTime": edges[0], "timeZone": "UTC"},
            "end": {"dateTime": edges[1], "timeZone": "UTC"},
        }
        made = await self.http.post(f"me/calendars/{self.calendar_id}/events", json=body)
        made.raise_for_status()
        return str(made.json()["id"])

    async def put_garbage(self, name: str) -> str:
        """An event without a start: Graph would refuse it, but migrations leave such items."""
        stored = await asyncio.to_thread(
            self.microsoft.put_raw, self.calendar_id, {"subject": "broken"}
        )
        return str(stored["id"])

    async def remove(self, external_id: str) -> None:
        (await self.http.delete(f"me/events/{external_id}")).raise_for_status()


@pytest.fixture
def graph_calendar_subject(microsoft: LocalMicrosoft) -> SubjectFactory:
    from tests.adapters.test_calendar_port_contract import Subject

    app = AppRegistration(microsoft.client_id, microsoft.client_secret)
    endpoints = MicrosoftEndpoints(microsoft.authority, microsoft.graph_endpoint, microsoft.ca_file)

    @asynccontextmanager
    async def made() -> AsyncIterator[Subject]:
        email = f"u{uuid4().hex[:10]}@contoso.test"
        await asyncio.to_thread(microsoft.add_account, email)
        calendar_id = await asyncio.to_thread(microsoft.add_calendar, email, "Work")
        ours = await access_token(await asyncio.to_thread(microsoft.grant, email), app, endpoints)
        theirs = await access_token(await asyncio.to_thread(microsoft.grant, email), app, endpoints)
        async with graph_http(ours, endpoints) as mine, graph_http(theirs, endpoints) as other:
            backdoor = GraphBackdoor(microsoft, calendar_id, other)
            yield Subject(GraphCalendar(Graph(mine)), calendar_id, backdoor, assigns_uid=True)

    return made


class EwsBackdoor:
    """The user's Outlook: exchangelib with the user's own login, our mapping not involved."""

    def __init__(
        self, exchange: LocalExchangeServer, account: exchangelib.Account, folder_id: str
    ) -> None:
        self.exchange, self.account, self.folder_id = exchange, account, folder_id

    async def put(self, name: str, fields: ProviderEventFields, uid: str) -> str:
        time = fields.time
        if isinstance(time, AllDaySpan):
            edges = [exchangelib.EWSDate.from_date(time.start_date)]
            edges.append(exchangelib.EWSDate.from_date(time.end_date - timedelta(days=1)))
        else:
            edges = [exchangelib.EWSDateTime.from_datetime(t) for t in (time.start, time.end)]

        def made() -> str:
            folder = CalendarFolder(root=self.account.root, id=self.folder_id)
            item = exchangelib.CalendarItem(
                account=self.account,
                folder=folder,
                subject=fields.subject,
                body=fields.description,
                location=fields.location,
                is_all_day=isinstance(time, AllDaySpan),
                start=edges[0],
                end=edges[1],
                uid=uid,
            )
            item.save()
            return str(item.id)

        return await asyncio.to_thread(made)

    async def put_garbage(self, name: str) -> str:
        """An item without a start: Exchange refuses to make one, migrations leave them."""
        stored = await asyncio.to_thread(
            self.exchange.put_raw, self.folder_id, {"Subject": "broken"}
        )
        return str(stored["id"])

    async def remove(self, external_id: str) -> None:
        def gone() -> None:
            (item,) = self.account.fetch(ids=[(external_id, None)])
            item.delete()

        await asyncio.to_thread(gone)


@pytest.fixture
def ews_calendar_subject(exchange_server: LocalExchangeServer) -> SubjectFactory:
    from tests.adapters.test_calendar_port_contract import Subject

    @asynccontextmanager
    async def made() -> AsyncIterator[Subject]:
        email = f"u{uuid4().hex[:10]}@corp.test"
        await asyncio.to_thread(exchange_server.add_account, email, PASSWORD)
        folder_id = await asyncio.to_thread(exchange_server.add_calendar, email, "Work")
        credentials = Credentials(kind="basic", username=email, secret=PASSWORD)
        ours = Mailbox(exchange_server.ews_url, credentials)
        theirs = Mailbox(exchange_server.ews_url, credentials)
        backdoor = EwsBackdoor(exchange_server, theirs.account, folder_id)
        try:
            yield Subject(EwsCalendar(ours), folder_id, backdoor, assigns_uid=False)
        finally:
            ours.close()
            theirs.close()

    return made
