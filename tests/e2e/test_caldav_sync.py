"""Two-way sync end to end on real components: crm-api, PostgreSQL, the Kafka-protocol broker,
sync-caldav (started by the run command) and Radicale. The calendar side is checked and edited
with an independent CalDAV client (the ``caldav`` library), as a user's calendar program would."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import caldav
import httpx
import pytest
from icalendar import Calendar, Event

from calsync_localinfra.radicale import LocalRadicale

pytestmark = pytest.mark.e2e
PASSWORD = "e2e-password"


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout_s: float = 60, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.3)


@dataclass
class Journey:
    """One CRM user (alone in a tenant of their own) with a Radicale calendar of their own."""

    api: httpx.AsyncClient
    user_id: str
    tenant_id: str
    calendar_url: str
    calendar: Any  # caldav.Calendar: the user's own calendar program
    connection: Any

    async def status(self) -> dict[str, Any]:
        return dict((await self.api.get(f"/users/{self.user_id}/sync-status")).json())

    async def refresh(self) -> None:
        response = await self.api.post(f"/users/{self.user_id}/sync-status/refresh", json={})
        assert response.status_code == 202, response.text

    async def in_sync(self, what: str = "in sync") -> dict[str, Any]:
        async def done() -> dict[str, Any] | None:
            status = await self.status()
            return status if status["state"] == "in_sync" else None

        return dict(await eventually(done, what=what))

    async def meetings(self, q: str = "") -> list[dict[str, Any]]:
        found = await self.api.get(
            "/meetings", params={"q": q, "limit": 200} if q else {"limit": 200}
        )
        assert found.status_code == 200, found.text
        return list(found.json()["items"])

    async def server_events(self) -> list[Event]:
        objects = await asyncio.to_thread(self.calendar.events)
        events = []
        for obj in objects:
            parsed = Calendar.from_ical(obj.data)
            events += [c for c in parsed.walk("VEVENT") if "RECURRENCE-ID" not in c]
        return events

    async def server_event(self, subject: str) -> Event | None:
        return next((e for e in await self.server_events() if str(e["SUMMARY"]) == subject), None)

    async def put_on_server(self, subject: str, start: datetime, **props: str) -> str:
        uid = f"{uuid.uuid4()}@calendar-app.test"
        event = Event()
        event.add("UID", uid)
        event.add("DTSTAMP", datetime.now(UTC))
        event.add("SUMMARY", subject)
        event.add("DTSTART", start)
        event.add("DTEND", start + timedelta(hours=1))
        for name, value in props.items():
            event.add(name, value)
        calendar = Calendar()
        calendar.add("PRODID", "-//calendar app//EN")
        calendar.add("VERSION", "2.0")
        calendar.add_component(event)
        await asyncio.to_thread(self.calendar.save_event, calendar.to_ical().decode())
        return uid

    async def edit_on_server(self, subject: str, **changes: str) -> None:
        objects = await asyncio.to_thread(self.calendar.events)
        for obj in objects:
            parsed = Calendar.from_ical(obj.data)
            event = next(iter(parsed.walk("VEVENT")))
            if str(event["SUMMARY"]) == subject:
                for name, value in changes.items():
                    event.pop(name, None)
                    event.add(name, value)
                obj.data = parsed.to_ical().decode()
                await asyncio.to_thread(obj.save)
                return
        pytest.fail(f"no event {subject!r} on the server")

    async def delete_on_server(self, subject: str) -> None:
        for obj in await asyncio.to_thread(self.calendar.events):
            if f"SUMMARY:{subject}" in obj.data:
                await asyncio.to_thread(obj.delete)
                return
        pytest.fail(f"no event {subject!r} on the server")


def slot(days: int, hour: int = 9) -> dict[str, str]:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )
    return {
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "timezone": "Europe/Copenhagen",
    }


@pytest.fixture
async def journey(stack, e2e_radicale: LocalRadicale) -> AsyncIterator[Journey]:
    tenant_id, user_id, token = await stack.isolated_admin()
    login = f"u{uuid.uuid4().hex[:10]}"
    e2e_radicale.add_user(login, PASSWORD)
    calendar_url = e2e_radicale.make_calendar(login, "work", "Work")
    api = httpx.AsyncClient(
        base_url=stack.api, timeout=30, headers={"Authorization": f"Bearer {token}"}
    )
    connection = caldav.DAVClient(url=calendar_url, username=login, password=PASSWORD)
    journey = Journey(
        api, user_id, tenant_id, calendar_url, connection.calendar(url=calendar_url), connection
    )
    yield journey
    await api.aclose()
    connection.close()


async def connect(journey: Journey, radicale: LocalRadicale) -> None:
    login = journey.calendar_url.rstrip("/").split("/")[-2]
    account = {
        "provider": "caldav",
        "server_url": radicale.url,
        "username": login,
        "password": PASSWORD,
    }
    tested = await journey.api.post(
        f"/users/{journey.user_id}/calendar-connection/test", json=account
    )
    assert tested.status_code == 200, tested.text
    assert tested.json()["verdict"] == "ok", tested.json()
    assert journey.calendar_url in [c["id"] for c in tested.json()["calendars"]]
    saved = await journey.api.put(
        f"/users/{journey.user_id}/calendar-connection",
        json={**account, "calendars": [journey.calendar_url]},
    )
    assert saved.status_code == 200, saved.text
    await journey.in_sync("the first sync")


async def test_meetings_travel_both_ways(journey: Journey, e2e_radicale: LocalRadicale) -> None:
    await journey.put_on_server("Made in the calendar app", datetime.now(UTC) + timedelta(days=2))
    await connect(journey, e2e_radicale)

    # First sync imported the calendar's event, sending no invitations.
    [imported] = await eventually(
        lambda: journey.meetings("Made in the calendar app"), what="import"
    )
    assert imported["owner_user_id"] == journey.user_id

    # CRM → server: create, edit, delete.
    created = await journey.api.post("/meetings", json={"subject": "Made in the CRM", **slot(3)})
    assert created.status_code == 201, created.text
    meeting = created.json()
    event = await eventually(lambda: journey.server_event("Made in the CRM"), what="CRM → server")
    assert str(event["X-CRM-MEETING-ID"]) == meeting["id"]
    assert str(event["UID"]) == meeting["ical_uid"]
    renamed = await journey.api.patch(
        f"/meetings/{meeting['id']}",
        json={"subject": "Renamed in the CRM"},
    )
    assert renamed.status_code == 200, renamed.text
    await eventually(lambda: journey.server_event("Renamed in the CRM"), what="edit → server")

    # Server → CRM: create, edit, delete, seen after a refresh (what the web page asks on load).
    await journey.put_on_server("Added in the calendar app", datetime.now(UTC) + timedelta(days=4))
    await journey.edit_on_server("Made in the calendar app", LOCATION="Room 7")
    await journey.refresh()
    await eventually(lambda: journey.meetings("Added in the calendar app"), what="server → CRM")

    async def moved() -> bool:
        [m] = await journey.meetings("Made in the calendar app")
        return bool(m["location"] == "Room 7")

    await eventually(moved, what="server edit → CRM")
    await journey.delete_on_server("Added in the calendar app")
    await journey.refresh()

    async def gone() -> bool:
        return not await journey.meetings("Added in the calendar app")

    await eventually(gone, what="server delete → CRM")
    deleted = await journey.api.delete(f"/meetings/{meeting['id']}")
    assert deleted.status_code == 204, deleted.text

    async def removed() -> bool:
        return await journey.server_event("Renamed in the CRM") is None

    await eventually(removed, what="CRM delete → server")
    # No duplicates anywhere, and nothing echoed back as a new version.
    subjects = [str(e["SUMMARY"]) for e in await journey.server_events()]
    assert subjects == ["Made in the calendar app"]
    assert [m["subject"] for m in await journey.meetings()] == ["Made in the calendar app"]
