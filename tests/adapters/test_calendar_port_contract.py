"""The CalendarPort contract (libs/sync-core ``ports.py``), run against every implementation:
the in-memory fake the engine's tests rely on, the CalDAV adapter on two real servers that
answer differently (Radicale and Xandikos), the Google adapter on the Google stand-in and the
Exchange Online (Graph) adapter on the Microsoft stand-in.
A fake that passed its own tests but not this suite would be lying to the engine's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import uuid4

import pytest

from calsync_contracts.events import ProviderEventFields
from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot, Participant, TimedSpan
from sync_core.errors import AlreadyExists, CursorInvalid, PreconditionFailed
from sync_core.fakes import InMemoryCalendar
from sync_core.ports import CalendarPort, OutboundEvent
from sync_core.views import meeting_view, provider_view
from sync_core.window import SyncWindow

NOW = datetime.now(UTC).replace(microsecond=0)
WINDOW = SyncWindow.around(NOW, 3, 12)


class Backdoor(Protocol):
    """A person editing the calendar in their own calendar program."""

    async def put(self, name: str, fields: ProviderEventFields, uid: str) -> str: ...

    async def put_garbage(self, name: str) -> str: ...

    async def remove(self, external_id: str) -> None: ...


@dataclass
class Subject:
    port: CalendarPort
    calendar_id: str
    backdoor: Backdoor
    assigns_uid: bool = False
    """The provider chooses an event's iCalendar UID itself (Microsoft Graph)."""


class MemoryBackdoor:
    def __init__(self, calendar: InMemoryCalendar, calendar_id: str) -> None:
        self.calendar = calendar
        self.calendar_id = calendar_id

    async def put(self, name: str, fields: ProviderEventFields, uid: str) -> str:
        self.calendar.user_put(self.calendar_id, name, fields, ical_uid=uid)
        return name

    async def put_garbage(self, name: str) -> str:
        self.calendar.user_put(self.calendar_id, name, None, error="unreadable iCalendar")
        return name

    async def remove(self, external_id: str) -> None:
        self.calendar.user_delete(self.calendar_id, external_id)


@pytest.fixture(params=["memory", "radicale", "xandikos", "google", "graph", "ews"])
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    if request.param == "memory":
        calendar = InMemoryCalendar()
        calendar.add_calendar("/cal/")
        yield Subject(calendar, "/cal/", MemoryBackdoor(calendar, "/cal/"))
        return
    factory = request.getfixturevalue(f"{request.param}_calendar_subject")
    async with factory() as made:
        yield made


def meeting(**changes: Any) -> MeetingSnapshot:
    start = NOW + timedelta(days=3)
    values: dict[str, Any] = {
        "id": uuid4(),
        "tenant_id": uuid4(),
        "ical_uid": f"{uuid4()}@crm.test",
        "version": 1,
        "owner_user_id": uuid4(),
        "subject": "Contract review; budget, Q1",
        "location": "Room 4",
        "description": "Line one\nLine two",
        "time": TimedSpan(
            start=start, end=start + timedelta(hours=1), timezone="Europe/Copenhagen"
        ),
        "participants": [
            Participant(kind="external", email="ann@example.com", name="Ann"),
        ],
    }
    values.update(changes)
    return MeetingSnapshot.model_validate(values)


def fields(m: MeetingSnapshot) -> ProviderEventFields:
    return ProviderEventFields(
        subject=m.subject, location=m.location, description=m.description, time=m.time
    )


async def test_create_then_fetch_gives_back_the_meeting(subject: Subject) -> None:
    m = meeting()
    written = await subject.port.create(subject.calendar_id, OutboundEvent(m))
    item = await subject.port.fetch(subject.calendar_id, written.external_id)
    assert item is not None
    assert item.fields is not None
    assert provider_view(item.fields) == meeting_view(m)
    assert item.crm_meeting_id == m.id
    assert item.ical_uid == m.ical_uid or (subject.assigns_uid and item.ical_uid)
    assert item.version_tag == written.version_tag


async def test_all_day_stays_all_day_with_an_exclusive_end(subject: Subject) -> None:
    day = (NOW + timedelta(days=5)).date()
    m = meeting(time=AllDaySpan(start_date=day, end_date=day + timedelta(days=2)))
    written = await subject.port.create(subject.calendar_id, OutboundEvent(m))
    item = await subject.port.fetch(subject.calendar_id, written.external_id)
    assert item is not None
    assert item.fields is not None
    assert item.fields.time == m.time


async def test_a_retried_create_is_refused_not_duplicated(subject: Subject) -> None:
    """Refused naming the first item, or (Graph's transactionId) answered with it: never a
    second item. A create of a newer version over the first is always refused (the engine
    merges it)."""
    m = meeting()
    written = await subject.port.create(subject.calendar_id, OutboundEvent(m))
    try:
        answered = (await subject.port.create(subject.calendar_id, OutboundEvent(m))).external_id
    except AlreadyExists as taken:
        answered = taken.external_id
    assert answered == written.external_id
    newer = m.model_copy(update={"version": 2, "subject": "Renamed meanwhile"})
    with pytest.raises(AlreadyExists) as taken_by_first:
        await subject.port.create(subject.calendar_id, OutboundEvent(newer))
    assert taken_by_first.value.external_id == written.external_id
    listing = await subject.port.list_window(subject.calendar_id, WINDOW, {})
    assert [i.external_id for i in listing.items] == [written.external_id]


async def test_updates_are_conditional(subject: Subject) -> None:
    m = meeting()
    first = await subject.port.create(subject.calendar_id, OutboundEvent(m))
    changed = m.model_copy(update={"version": 2, "subject": "Moved"})
    second = await subject.port.update(
        subject.calendar_id, first.external_id, OutboundEvent(changed), first.version_tag
    )
    assert second.version_tag != first.version_tag
    with pytest.raises(PreconditionFailed):
        await subject.port.update(
            subject.calendar_id, first.external_id, OutboundEvent(m), first.version_tag
        )


async def test_deletes_are_conditional_and_idempotent(subject: Subject) -> None:
    m = meeting()
    first = await subject.port.create(subject.calendar_id, OutboundEvent(m))
    changed = m.model_copy(update={"version": 2, "subject": "Moved"})
    second = await subject.port.update(
        subject.calendar_id, first.external_id, OutboundEvent(changed), first.version_tag
    )
    with pytest.raises(PreconditionFailed):
        await subject.port.delete(subject.calendar_id, first.external_id, first.version_tag)
    await subject.port.delete(subject.calendar_id, first.external_id, second.version_tag)
    assert await subject.port.fetch(subject.calendar_id, first.external_id) is None
    await subject.port.delete(subject.calendar_id, first.external_id, second.version_tag)


async def test_incremental_changes_are_exactly_what_changed(subject: Subject) -> None:
    kept, edited, removed = meeting(), meeting(), meeting()
    written = {}
    for m in (kept, edited, removed):
        written[m.id] = await subject.port.create(subject.calendar_id, OutboundEvent(m))
    listing = await subject.port.list_window(subject.calendar_id, WINDOW, {})
    assert listing.cursor is not None
    new_id = await subject.backdoor.put(
        "theirs.ics", fields(meeting(subject="Theirs")), "theirs-uid"
    )
    await subject.port.update(
        subject.calendar_id,
        written[edited.id].external_id,
        OutboundEvent(edited.model_copy(update={"version": 2, "subject": "Edited"})),
        written[edited.id].version_tag,
    )
    await subject.backdoor.remove(written[removed.id].external_id)
    batch = await subject.port.changes_since(subject.calendar_id, listing.cursor)
    changed = {item.external_id for item in batch.changed}
    assert changed == {written[edited.id].external_id, new_id}
    assert batch.deleted == [written[removed.id].external_id]
    assert batch.cursor is not None
    idle = await subject.port.changes_since(subject.calendar_id, batch.cursor)
    assert idle.changed == []
    assert idle.deleted == []


async def test_a_full_listing_names_known_items_without_fetching_them(subject: Subject) -> None:
    a, b = meeting(), meeting()
    wa = await subject.port.create(subject.calendar_id, OutboundEvent(a))
    wb = await subject.port.create(subject.calendar_id, OutboundEvent(b))
    listing = await subject.port.list_window(
        subject.calendar_id, WINDOW, {wa.external_id: wa.version_tag, wb.external_id: '"old"'}
    )
    assert listing.unchanged == [wa.external_id]
    assert [item.external_id for item in listing.items] == [wb.external_id]


async def test_the_window_bounds_a_full_listing(subject: Subject) -> None:
    far = NOW + timedelta(days=900)
    outside = meeting(time=TimedSpan(start=far, end=far + timedelta(hours=1), timezone="UTC"))
    await subject.port.create(subject.calendar_id, OutboundEvent(outside))
    inside = await subject.port.create(subject.calendar_id, OutboundEvent(meeting()))
    listing = await subject.port.list_window(subject.calendar_id, WINDOW, {})
    assert [item.external_id for item in listing.items] == [inside.external_id]


async def test_an_invalid_cursor_is_reported_as_such(subject: Subject) -> None:
    listing = await subject.port.list_window(subject.calendar_id, WINDOW, {})
    assert listing.cursor is not None
    bogus = listing.cursor[: listing.cursor.index(":") + 1] + "999999-bogus"
    with pytest.raises(CursorInvalid):
        await subject.port.changes_since(subject.calendar_id, bogus)


async def test_an_unreadable_item_is_an_item_with_an_error(subject: Subject) -> None:
    """Never an exception: the engine records it and syncs the rest (Odoo #109358)."""
    listing = await subject.port.list_window(subject.calendar_id, WINDOW, {})
    assert listing.cursor is not None
    good = await subject.port.create(subject.calendar_id, OutboundEvent(meeting()))
    bad = await subject.backdoor.put_garbage("garbage.ics")
    batch = await subject.port.changes_since(subject.calendar_id, listing.cursor)
    by_id = {item.external_id: item for item in batch.changed}
    assert by_id[good.external_id].fields is not None
    assert by_id[bad].fields is None
    assert by_id[bad].error
