"""CalDAV subjects for the CalendarPort contract: our adapter on a fresh calendar of a real
server, and a backdoor that edits that calendar with an independent client (the ``caldav``
library, as a user's calendar program would)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from uuid import uuid4

import caldav
import httpx
import pytest
from icalendar import Calendar, Event

from calsync_contracts.events import ProviderEventFields
from calsync_contracts.internal import Credentials
from calsync_contracts.meeting import AllDaySpan
from calsync_localinfra.radicale import LocalRadicale
from calsync_localinfra.xandikos import LocalXandikos
from sync_caldav.calendar import CalDavCalendar
from sync_caldav.webdav.client import DavClient

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
