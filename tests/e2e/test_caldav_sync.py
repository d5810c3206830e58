"""Two-way sync end to end on real components: crm-api, PostgreSQL, the Kafka-protocol broker,
sync-caldav (started by the run command) and Radicale. The calendar side is checked and edited
with an independent CalDAV client (the ``caldav`` library), as a user's calendar program would."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import caldav
import httpx
import pytest
from icalendar import Calendar, Event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from calsync_localinfra import free_port
from calsync_localinfra.radicale import LocalRadicale

from .support import eventually

pytestmark = pytest.mark.e2e
PASSWORD = "e2e-password"


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


async def meeting_named(journey: Journey, subject: str) -> dict[str, Any]:
    [found] = await eventually(lambda: journey.meetings(subject), what=subject)
    return dict(found)


async def test_edits_to_different_fields_on_both_sides_both_survive(
    journey: Journey, e2e_radicale: LocalRadicale
) -> None:
    await connect(journey, e2e_radicale)
    created = await journey.api.post("/meetings", json={"subject": "Both edit me", **slot(5)})
    assert created.status_code == 201, created.text
    await eventually(lambda: journey.server_event("Both edit me"), what="the meeting on the server")
    # At the same time: the calendar app moves it to another room, the CRM renames it.
    await journey.edit_on_server("Both edit me", LOCATION="Room 12")
    renamed = await journey.api.patch(
        f"/meetings/{created.json()['id']}", json={"subject": "Both edited me"}
    )
    assert renamed.status_code == 200, renamed.text
    await journey.refresh()

    async def merged_on_both_sides() -> bool:
        event = await journey.server_event("Both edited me")
        [meeting] = await journey.meetings("Both edited me") or [None]
        return (
            event is not None
            and str(event.get("LOCATION")) == "Room 12"
            and meeting is not None
            and meeting["location"] == "Room 12"
        )

    await eventually(merged_on_both_sides, what="both edits on both sides")
    assert len(await journey.server_events()) == 1
    assert len(await journey.meetings()) == 1


async def test_an_invalidated_sync_token_relists_without_losing_or_duplicating(
    stack, journey: Journey, e2e_radicale: LocalRadicale
) -> None:
    await journey.put_on_server("Kept across the reset", datetime.now(UTC) + timedelta(days=6))
    await connect(journey, e2e_radicale)
    await meeting_named(journey, "Kept across the reset")
    engine = create_async_engine(stack.state["sync_env"]["sync-caldav"]["DATABASE_URL"])
    async with engine.begin() as connection:  # the server forgot the token (403 next time)
        changed = await connection.execute(
            text("UPDATE cursors SET cursor = 'sync:http://radicale.org/ns/sync/bogus'")
        )
        assert changed.rowcount >= 1
    await engine.dispose()
    await journey.put_on_server("Added after the reset", datetime.now(UTC) + timedelta(days=7))
    await journey.refresh()
    await meeting_named(journey, "Added after the reset")
    await journey.in_sync()
    subjects = sorted(m["subject"] for m in await journey.meetings())
    assert subjects == ["Added after the reset", "Kept across the reset"]
    assert len(await journey.server_events()) == 2


async def test_server_down_shows_the_error_then_recovers_losing_nothing(
    journey: Journey, e2e_radicale: LocalRadicale
) -> None:
    await connect(journey, e2e_radicale)
    e2e_radicale.stop()
    try:
        created = await journey.api.post(
            "/meetings", json={"subject": "Written while down", **slot(8)}
        )
        assert created.status_code == 201, created.text

        async def reported() -> dict[str, Any] | None:
            status = await journey.status()
            return status if status["state"] in ("throttled", "failed") else None

        status = await eventually(reported, what="the outage in the sync status")
        assert "cannot be reached" in status["message"]
    finally:
        e2e_radicale.start()
    await journey.refresh()
    await eventually(
        lambda: journey.server_event("Written while down"), what="the change after recovery"
    )
    await journey.in_sync("recovered")


async def test_an_unreadable_item_is_reported_and_the_rest_syncs(
    journey: Journey, e2e_radicale: LocalRadicale
) -> None:
    await connect(journey, e2e_radicale)
    auth = journey.connection.username, PASSWORD
    # Radicale stores only valid iCalendar: the unreadable item is a resource without an event.
    todo = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VTODO\r\nUID:todo-1\r\n"
        "DTSTAMP:20261122T100000Z\r\nSUMMARY:{}\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
    edits = iter(range(1_000))

    async def put_todo() -> None:
        body = todo.format(f"not an event {next(edits)}")
        response = await asyncio.to_thread(
            httpx.put, journey.calendar_url + "todo.ics", content=body, auth=auth
        )
        assert response.status_code in (201, 204), response.text

    await put_todo()
    await journey.put_on_server("Readable neighbour", datetime.now(UTC) + timedelta(days=9))
    await journey.refresh()
    await meeting_named(journey, "Readable neighbour")

    async def reported() -> dict[str, Any] | None:
        status = await journey.status()
        if "could not be synchronised" in status["message"]:
            return status
        # A full listing (e.g. the connection's config event arriving after the first pass)
        # asks for the window's events only and so never lists the task; the change-based
        # pass that follows an edit of it does.
        await put_todo()
        await journey.refresh()
        await asyncio.sleep(1)
        return None

    status = await eventually(reported, what="the bad item in the status")
    assert status["state"] == "in_sync"
    assert "todo.ics" in status["message"]


async def test_a_replica_killed_mid_import_loses_and_duplicates_nothing(
    stack, journey: Journey, e2e_radicale: LocalRadicale
) -> None:
    """Replica B takes the connection and is SIGKILLed in the middle of a 300-event import;
    the stack's replica A takes over once B's lease expires."""
    count = 300
    await connect(journey, e2e_radicale)
    replica_a = stack.state["pids"]["sync-caldav"]
    os.kill(replica_a, signal.SIGSTOP)  # frozen: only B can take the connection
    replica_b = start_replica(stack)
    sync_db = create_async_engine(stack.state["sync_env"]["sync-caldav"]["DATABASE_URL"])
    try:
        start = datetime.now(UTC) + timedelta(days=1)
        await put_many(
            journey, [(f"Bulk {i:03}", start + timedelta(hours=i)) for i in range(count)]
        )
        async with sync_db.begin() as connection:  # what a refresh does, without Kafka's help:
            await connection.execute(  # A, frozen, may own the request topic's partitions
                text("UPDATE connections SET sync_requested_at = now() WHERE user_id = :u"),
                {"u": journey.user_id},
            )

        async def b_is_importing() -> bool:
            async with sync_db.connect() as connection:
                owner = await connection.scalar(
                    text("SELECT lease_owner FROM connections WHERE user_id = :u"),
                    {"u": journey.user_id},
                )
            return owner == "replica-b" and len(await journey.meetings("Bulk")) >= 20

        await eventually(b_is_importing, timeout_s=90, what="replica B importing")
        replica_b.send_signal(signal.SIGKILL)
        replica_b.wait(10)
        imported_at_kill = len(await all_meetings(journey))
    finally:
        os.kill(replica_a, signal.SIGCONT)
        if replica_b.poll() is None:
            replica_b.kill()
        await sync_db.dispose()
    assert imported_at_kill < count, "B was killed mid-import"

    async def all_imported() -> bool:
        return len(await all_meetings(journey)) >= count

    await eventually(all_imported, timeout_s=120, what="the import finished by replica A")
    await journey.in_sync()
    meetings = await all_meetings(journey)
    assert len(meetings) == count
    assert len({m["ical_uid"] for m in meetings}) == count
    assert len(await journey.server_events()) == count


async def put_many(journey: Journey, events: list[tuple[str, datetime]]) -> None:
    """Many events at once, straight over HTTP (as a bulk import in a calendar app does)."""
    auth = (journey.connection.username, PASSWORD)
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(auth=auth, timeout=30) as client:

        async def put(subject: str, start: datetime) -> None:
            uid = f"{uuid.uuid4()}@calendar-app.test"
            body = (
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bulk//EN\r\nBEGIN:VEVENT\r\n"
                f"UID:{uid}\r\nDTSTAMP:20261122T100000Z\r\nSUMMARY:{subject}\r\n"
                f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\n"
                f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\n"
                "END:VEVENT\r\nEND:VCALENDAR\r\n"
            )
            async with limit:
                response = await client.put(
                    f"{journey.calendar_url}{uuid.uuid4().hex}.ics", content=body
                )
            assert response.status_code in (201, 204), response.text

        await asyncio.gather(*(put(subject, start) for subject, start in events))


async def all_meetings(journey: Journey) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = await journey.api.get("/meetings", params={"limit": 200, "offset": len(found)})
        items = page.json()["items"]
        found += items
        if len(items) < 200:
            return found


async def connect_without_waiting(journey: Journey, radicale: LocalRadicale) -> None:
    login = journey.calendar_url.rstrip("/").split("/")[-2]
    saved = await journey.api.put(
        f"/users/{journey.user_id}/calendar-connection",
        json={
            "provider": "caldav",
            "server_url": radicale.url,
            "username": login,
            "password": PASSWORD,
            "calendars": [journey.calendar_url],
        },
    )
    assert saved.status_code == 200, saved.text


def start_replica(stack) -> subprocess.Popen[bytes]:
    """A second sync-caldav process, configured like the stack's own."""
    env = {
        **os.environ,
        **stack.state["sync_env"]["sync-caldav"],
        "KAFKA_BOOTSTRAP_SERVERS": stack.state["kafka_bootstrap_servers"],
        "KAFKA_IDEMPOTENT_PRODUCER": "false",
        "INTERNAL_API_TOKEN": stack.dev_secret("INTERNAL_API_TOKEN"),
        "CRM_API_URL": stack.api,
        "SSRF_ALLOW": stack.state["ssrf_allow"],
        "HTTP_PORT": str(free_port()),
        "WORKER_ID": "replica-b",
        "ENVIRONMENT": "dev",
        "LEASE_SECONDS": "6",
        "TICK_SECONDS": "0.5",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "sync_caldav"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def weekly_series(subject: str, first: datetime) -> tuple[str, str, datetime, datetime]:
    """A weekly series of six as a calendar app stores it: one resource holding the master
    (RRULE, an EXDATE on the second week) and an edited third week (RECURRENCE-ID, RFC 5545
    §3.8.4.4) moved an hour later."""
    uid = f"{uuid.uuid4()}@calendar-app.test"
    excluded, edited = first + timedelta(weeks=1), first + timedelta(weeks=2)
    master = Event()
    master.add("UID", uid)
    master.add("DTSTAMP", datetime.now(UTC))
    master.add("SUMMARY", subject)
    master.add("DTSTART", first)
    master.add("DTEND", first + timedelta(hours=1))
    master.add("RRULE", {"FREQ": "WEEKLY", "COUNT": 6})
    master.add("EXDATE", excluded)
    override = Event()
    override.add("UID", uid)
    override.add("DTSTAMP", datetime.now(UTC))
    override.add("RECURRENCE-ID", edited)
    override.add("SUMMARY", f"{subject} (moved)")
    override.add("DTSTART", edited + timedelta(hours=1))
    override.add("DTEND", edited + timedelta(hours=2))
    calendar = Calendar()
    calendar.add("PRODID", "-//calendar app//EN")
    calendar.add("VERSION", "2.0")
    calendar.add_component(master)
    calendar.add_component(override)
    return uid, calendar.to_ical().decode(), excluded, edited


async def test_a_recurring_series_comes_in_whole_and_an_occurrence_edit_goes_back(
    journey: Journey, e2e_radicale: LocalRadicale
) -> None:
    first = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    uid, ical, excluded, edited = weekly_series("Weekly review", first)
    await asyncio.to_thread(journey.calendar.save_event, ical)
    await connect(journey, e2e_radicale)

    # The series and its edited occurrence, attached to it; the EXDATE kept.
    async def both() -> dict[str, dict[str, Any]] | None:
        found = {m["subject"]: m for m in await journey.meetings("Weekly review")}
        return found if len(found) == 2 else None

    imported = await eventually(both, what="the series and its edited occurrence")
    series, occurrence = imported["Weekly review"], imported["Weekly review (moved)"]
    assert series["recurrence"]["rrule"] == ["FREQ=WEEKLY;COUNT=6"]
    assert [datetime.fromisoformat(d) for d in series["recurrence"]["exdates"]] == [excluded]
    assert occurrence["series_id"] == series["id"]
    assert datetime.fromisoformat(occurrence["recurrence_id"]) == edited
    # The calendar view shows five weeks (six minus the EXDATE), the third one moved.
    shown = await journey.api.get(
        "/calendar",
        params={
            "users": journey.user_id,
            "start": first.isoformat(),
            "end": (first + timedelta(weeks=7)).isoformat(),
        },
    )
    assert shown.status_code == 200, shown.text
    starts = sorted(datetime.fromisoformat(e["start"]) for e in shown.json())
    assert starts == [
        first,
        edited + timedelta(hours=1),
        first + timedelta(weeks=3),
        first + timedelta(weeks=4),
        first + timedelta(weeks=5),
    ]

    # CRM → server: the occurrence's edit rewrites its RECURRENCE-ID override, in place.
    renamed = await journey.api.patch(f"/meetings/{occurrence['id']}", json={"location": "Room 3"})
    assert renamed.status_code == 200, renamed.text

    async def override_on_server() -> list[Event] | None:
        objects = await asyncio.to_thread(journey.calendar.events)
        components = [c for obj in objects for c in Calendar.from_ical(obj.data).walk("VEVENT")]
        overrides = [c for c in components if "RECURRENCE-ID" in c]
        moved = [c for c in overrides if str(c.get("LOCATION", "")) == "Room 3"]
        return components if len(objects) == 1 and moved else None

    components = await eventually(override_on_server, what="occurrence edit → server")
    assert {str(c["UID"]) for c in components} == {uid}
    [master] = [c for c in components if "RECURRENCE-ID" not in c]
    assert [d.dt for d in master["EXDATE"].dts] == [excluded]
    assert str(master["SUMMARY"]) == "Weekly review"

    # CRM → server: the first edit of an occurrence nobody edited yet (opened from the page)
    # becomes a new RECURRENCE-ID override inside the same item.
    fourth = first + timedelta(weeks=3)
    opened = await journey.api.patch(
        f"/meetings/{series['id']}/occurrences/{fourth.isoformat()}",
        json={"subject": "Weekly review (customer visit)"},
    )
    assert opened.status_code == 200, opened.text

    async def new_override_on_server() -> list[Event] | None:
        objects = await asyncio.to_thread(journey.calendar.events)
        components = [c for obj in objects for c in Calendar.from_ical(obj.data).walk("VEVENT")]
        visit = [c for c in components if "customer visit" in str(c.get("SUMMARY", ""))]
        return components if len(objects) == 1 and visit else None

    components = await eventually(new_override_on_server, what="first occurrence edit → server")
    [visit] = [c for c in components if "customer visit" in str(c["SUMMARY"])]
    assert visit["RECURRENCE-ID"].dt == fourth
    assert visit["DTSTART"].dt == fourth
    assert len([c for c in components if "RECURRENCE-ID" in c]) == 2

    # Server → CRM: the whole series deleted in the calendar app takes both meetings with it.
    await journey.delete_on_server("Weekly review")
    await journey.refresh()

    async def both_gone() -> bool:
        return not await journey.meetings("Weekly review")

    await eventually(both_gone, what="series delete → CRM")
