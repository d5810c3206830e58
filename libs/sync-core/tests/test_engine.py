"""The engine against the in-memory fakes: one test per bug users report most
(../shared sync lessons §4) and per rule of docs/sync-engine.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from calsync_contracts import Provider
from calsync_contracts.events import (
    DeletionKind,
    InvitationSender,
    ProviderChange,
    ProviderChangeKind,
    ProviderEventFields,
    ProviderLink,
)
from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot, Recurrence, TimedSpan
from sync_core.context import ConnectionContext
from sync_core.engine import SyncEngine
from sync_core.errors import SuddenlyEmpty
from sync_core.fakes import InMemoryCalendar, InMemoryLinkStore, RecordingSink, fields_of
from sync_core.links import Link
from sync_core.planner import CrmChange, Outbound
from sync_core.window import SyncWindow

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
CAL = "/cal/work/"
TENANT, USER, CONN = uuid4(), uuid4(), uuid4()


def meeting(**changes: object) -> MeetingSnapshot:
    base = MeetingSnapshot(
        id=uuid4(),
        tenant_id=TENANT,
        ical_uid=f"{uuid4()}@crm",
        version=1,
        owner_user_id=USER,
        subject="Quarterly review",
        time=TimedSpan(
            start=NOW + timedelta(days=2),
            end=NOW + timedelta(days=2, hours=1),
            timezone="Europe/Copenhagen",
        ),
    )
    return base.model_copy(update=changes)


def bump(m: MeetingSnapshot, **changes: object) -> MeetingSnapshot:
    return m.model_copy(update={"version": m.version + 1, **changes})


class World:
    def __init__(self, calendars: tuple[str, ...] = (CAL,)) -> None:
        self.calendar = InMemoryCalendar()
        for calendar_id in calendars:
            self.calendar.add_calendar(calendar_id)
        self.links = InMemoryLinkStore()
        self.sink = RecordingSink()
        self.crm_meetings: list[MeetingSnapshot] = []
        self.ctx = ConnectionContext(
            connection_id=CONN,
            tenant_id=TENANT,
            user_id=USER,
            provider=Provider.CALDAV,
            calendars=calendars,
            window=SyncWindow.around(NOW, 3, 12),
        )

    @property
    def engine(self) -> SyncEngine:
        return SyncEngine(self.ctx, self.calendar, self.links, self.sink, self, lambda: NOW)

    async def meetings_in_window(self, user_id: UUID, window: SyncWindow) -> list[MeetingSnapshot]:
        return self.crm_meetings

    def items(self, calendar_id: str = CAL) -> dict[str, object]:
        return dict(self.calendar.items[calendar_id])


async def pushed(world: World, m: MeetingSnapshot) -> str:
    await world.engine.push(CrmChange(m))
    link = await world.links.by_meeting(m.id)
    assert link is not None
    return link.external_id


async def test_create_writes_once_even_when_redelivered() -> None:
    world = World()
    m = meeting()
    await world.engine.push(CrmChange(m))
    plan = await world.engine.push(CrmChange(m))  # at-least-once delivery
    assert plan.action is Outbound.SKIP
    assert len(world.items()) == 1


async def test_retried_create_after_a_crash_adopts_its_own_item() -> None:
    """Crash after the provider write, before the status row was saved (Odoo #39606)."""
    world = World()
    m = meeting()
    external_id = await pushed(world, m)
    world.links.links.clear()  # the status row was never written
    requests_before = world.calendar.requests
    await world.engine.push(CrmChange(m))
    assert list(world.items()) == [external_id]
    assert world.calendar.requests - requests_before == 2  # the refused create + one fetch
    assert (await world.links.by_meeting(m.id)) is not None


async def test_our_own_write_does_not_echo_back() -> None:
    """vdirsyncer #318: a write must not come back as a change."""
    world = World()
    await world.engine.pull()  # cursor
    await pushed(world, meeting())
    await world.engine.pull()
    assert world.sink.published == []


async def test_server_churn_is_not_a_change() -> None:
    world = World()
    await world.engine.pull()
    external_id = await pushed(world, meeting())
    world.calendar.touch(CAL, external_id)
    report = await world.engine.pull()
    assert world.sink.published == []
    assert report.refreshed == 1


async def test_provider_edit_goes_to_the_crm_with_its_merge_base() -> None:
    world = World()
    await world.engine.pull()
    m = meeting()
    external_id = await pushed(world, m)
    edited = fields_of(m).model_copy(update={"location": "Room 4"})
    world.calendar.user_put(CAL, external_id, edited)
    await world.engine.pull()
    [change] = world.sink.published
    assert change.kind is ProviderChangeKind.UPSERT
    assert change.crm_meeting_id == m.id
    assert change.base_version == m.version
    assert change.fields is not None
    assert change.fields.location == "Room 4"


async def test_the_crm_applying_a_provider_edit_is_confirmed_without_a_write() -> None:
    world = World()
    await world.engine.pull()
    m = meeting()
    external_id = await pushed(world, m)
    world.calendar.user_put(
        CAL, external_id, fields_of(m).model_copy(update={"location": "Room 4"})
    )
    await world.engine.pull()
    writes = world.calendar.requests
    applied = bump(m, location="Room 4")
    link = ProviderLink(connection_id=CONN, external_id=external_id)
    plan = await world.engine.push(
        CrmChange(applied, origin_connection_id=CONN, provider_link=link)
    )
    assert plan.action is Outbound.CONFIRM
    assert world.calendar.requests == writes


async def test_concurrent_edit_is_merged_by_the_crm_not_overwritten() -> None:
    """Both sides edit before a sync: the 412 hands the provider's edit to the CRM."""
    world = World()
    m = meeting()
    external_id = await pushed(world, m)
    world.calendar.user_put(
        CAL, external_id, fields_of(m).model_copy(update={"location": "Room 4"})
    )
    await world.engine.push(CrmChange(bump(m, subject="Quarterly review (moved)")))
    stored = world.calendar.items[CAL][external_id].fields
    assert stored is not None
    assert stored.location == "Room 4"
    [change] = world.sink.published
    assert change.fields is not None
    assert change.fields.location == "Room 4"
    assert change.base_version == 1


async def test_provider_delete_is_a_physical_delete_in_the_crm() -> None:
    world = World()
    await world.engine.pull()
    m = meeting()
    external_id = await pushed(world, m)
    world.calendar.user_delete(CAL, external_id)
    await world.engine.pull()
    [change] = world.sink.published
    assert change.kind is ProviderChangeKind.DELETED
    assert change.deletion is DeletionKind.PHYSICAL
    assert change.base_fields == fields_of(m)
    tombstone = await world.links.by_meeting(m.id)
    assert tombstone is not None
    assert tombstone.deleted  # until the CRM confirms, a full sync must not re-create it
    world.crm_meetings = [m]
    await world.engine.pull(full=True)
    assert world.items() == {}
    await world.engine.push(CrmChange(bump(m), deletion=DeletionKind.PHYSICAL))
    assert await world.links.by_meeting(m.id) is None


async def test_crm_delete_removes_the_provider_item() -> None:
    world = World()
    m = meeting()
    await pushed(world, m)
    await world.engine.push(CrmChange(bump(m), deletion=DeletionKind.PHYSICAL))
    assert world.items() == {}


async def test_a_crm_delete_is_mailed_by_the_provider_only_when_it_sends_invitations() -> None:
    """Exactly one party mails guests: a tenant whose provider sends the invitations gets the
    cancellation from it too; with our notifier sending them, the provider stays silent."""
    for sender, mailed in ((InvitationSender.NOTIFIER, False), (InvitationSender.PROVIDER, True)):
        world = World()
        world.ctx = replace(world.ctx, invitation_sender=sender)
        m = meeting()
        external_id = await pushed(world, m)
        await world.engine.push(CrmChange(bump(m), deletion=DeletionKind.PHYSICAL))
        assert world.calendar.cancellations_mailed == ([external_id] if mailed else [])


async def test_a_provider_edit_beats_a_crm_delete() -> None:
    world = World()
    m = meeting()
    external_id = await pushed(world, m)
    world.calendar.user_put(CAL, external_id, fields_of(m).model_copy(update={"subject": "Kept"}))
    await world.engine.push(CrmChange(bump(m), deletion=DeletionKind.PHYSICAL))
    assert external_id in world.items()
    [change] = world.sink.published
    assert change.kind is ProviderChangeKind.UPSERT
    assert change.fields is not None
    assert change.fields.subject == "Kept"


async def test_logical_delete_never_touches_the_provider() -> None:
    """Dynamics KB 4345686: unlinking is not cancelling."""
    world = World()
    m = meeting()
    await pushed(world, m)
    plan = await world.engine.push(CrmChange(bump(m), deletion=DeletionKind.LOGICAL))
    assert plan.action is Outbound.UNLINK
    assert len(world.items()) == 1
    assert await world.links.by_meeting(m.id) is None


async def test_a_meeting_leaving_the_window_is_unlinked_not_deleted() -> None:
    world = World()
    m = meeting()
    await pushed(world, m)
    far = NOW + timedelta(days=800)
    moved = bump(m, time=TimedSpan(start=far, end=far + timedelta(hours=1), timezone="UTC"))
    plan = await world.engine.push(CrmChange(moved))
    assert plan.action is Outbound.UNLINK
    assert len(world.items()) == 1


async def test_invalid_cursor_relists_without_wiping_or_duplicating() -> None:
    """Cal.com #2434 / Odoo PR #167299: a reset must neither delete nor duplicate."""
    world = World()
    await world.engine.pull()
    for _ in range(3):
        await pushed(world, meeting())
    world.calendar.epoch += 1  # every sync token is now invalid
    report = await world.engine.pull()
    assert report.full
    assert world.sink.published == []
    assert len(world.links.links) == 3


async def test_suddenly_empty_calendar_aborts_and_deletes_nothing() -> None:
    world = World()
    for _ in range(2):
        await pushed(world, meeting())
    world.calendar.items[CAL].clear()
    with pytest.raises(SuddenlyEmpty):
        await world.engine.pull(full=True)
    assert world.sink.published == []
    assert len(world.links.links) == 2


async def test_one_unreadable_item_does_not_stop_the_calendar() -> None:
    """Odoo #109358: one bad RRULE stopped the whole sync."""
    world = World()
    world.calendar.user_put(CAL, "bad.ics", None, error="RRULE could not be parsed")
    good = fields_of(meeting(subject="Good"))
    world.calendar.user_put(CAL, "good.ics", good)
    report = await world.engine.pull()
    assert [c.external_id for c in world.sink.published] == ["good.ics"]
    assert report.bad_items == ["bad.ics: RRULE could not be parsed"]
    assert world.links.bad_items == {"bad.ics": "RRULE could not be parsed"}


async def test_a_refused_write_is_recorded_and_the_next_change_goes_through() -> None:
    world = World()
    world.calendar.refuse = lambda event: event.meeting.subject == "refused"
    await world.engine.push(CrmChange(meeting(subject="refused")))
    await world.engine.push(CrmChange(meeting(subject="fine")))
    assert len(world.items()) == 1
    assert len(world.links.bad_items) == 1


async def test_first_sync_imports_provider_events_and_pushes_future_crm_meetings() -> None:
    world = World()
    world.calendar.user_put(CAL, "theirs.ics", fields_of(meeting(subject="From the calendar")))
    past = NOW - timedelta(days=3)
    world.crm_meetings = [
        meeting(subject="Future"),
        meeting(
            subject="Past",
            time=TimedSpan(start=past, end=past + timedelta(hours=1), timezone="UTC"),
        ),
    ]
    report = await world.engine.pull()
    [imported] = world.sink.published
    assert imported.initial_import
    assert imported.external_id == "theirs.ics"
    assert report.pushed == 1
    subjects = sorted(i.fields.subject for i in world.calendar.items[CAL].values() if i.fields)
    assert subjects == ["From the calendar", "Future"]


async def test_all_day_meetings_stay_all_day_through_the_engine() -> None:
    world = World()
    await world.engine.pull()
    day = NOW.date() + timedelta(days=3)
    m = meeting(time=AllDaySpan(start_date=day, end_date=day + timedelta(days=1)))
    external_id = await pushed(world, m)
    stored = world.calendar.items[CAL][external_id].fields
    assert stored is not None
    assert stored.time == m.time


async def test_meetings_go_to_the_calendar_mapped_to_their_type() -> None:
    world = World(calendars=(CAL, "/cal/sales/"))
    sales_type = uuid4()
    world.ctx = replace(world.ctx, calendar_by_meeting_type={str(sales_type): "/cal/sales/"})
    await pushed(world, meeting(meeting_type_id=sales_type))
    await pushed(world, meeting())
    assert len(world.items("/cal/sales/")) == 1
    assert len(world.items(CAL)) == 1


async def test_deselected_calendar_is_unlinked_not_deleted() -> None:
    world = World(calendars=(CAL, "/cal/sales/"))
    await world.engine.pull()
    world.calendar.user_put("/cal/sales/", "x.ics", fields_of(meeting()))
    await world.engine.pull()
    world.sink.published.clear()
    world.ctx = replace(world.ctx, calendars=(CAL,))
    report = await world.engine.pull()
    [change] = world.sink.published
    assert change.deletion is DeletionKind.LOGICAL
    assert report.unlinked == 1
    assert "x.ics" in world.calendar.items["/cal/sales/"]


async def test_imported_item_confirmed_when_the_crm_creates_its_meeting() -> None:
    world = World()
    fields = fields_of(meeting(subject="Imported"))
    world.calendar.user_put(CAL, "imp.ics", fields, ical_uid="imp-uid")
    await world.engine.pull()
    created = meeting(subject="Imported", ical_uid="imp-uid", time=fields.time)
    link = ProviderLink(connection_id=CONN, external_id="imp.ics")
    writes = world.calendar.requests
    plan = await world.engine.push(
        CrmChange(created, origin_connection_id=CONN, provider_link=link)
    )
    assert plan.action is Outbound.CONFIRM
    assert world.calendar.requests == writes
    assert (await world.links.by_meeting(created.id)) is not None


def test_fields_of_keeps_only_attendees_with_email() -> None:
    assert isinstance(fields_of(meeting()), ProviderEventFields)


class CrashingSink(RecordingSink):
    """Dies after ``survives`` publishes, as the process would: ``disk`` is what the status
    table held at that instant (no ``finally`` of the dying process writes anything more)."""

    def __init__(self, survives: int, store: InMemoryLinkStore) -> None:
        super().__init__()
        self.survives, self.store = survives, store
        self.disk: dict[str, Link] = {}

    async def publish(self, change: ProviderChange) -> None:
        if len(self.published) >= self.survives:
            self.disk = dict(self.store.links)
            raise RuntimeError("crashed mid-batch")
        await super().publish(change)


async def test_a_crash_mid_import_loses_no_change_and_the_next_pass_publishes_the_rest() -> None:
    """A full listing saves its status rows a batch at a time, before the first publish of
    their batch."""
    world = World()
    for i in range(600):
        world.calendar.user_put(CAL, f"e{i}.ics", fields_of(meeting(subject=f"Event {i}")))
    world.sink = crashing = CrashingSink(survives=300, store=world.links)
    with pytest.raises(RuntimeError, match="crashed"):
        await world.engine.pull()
    published_before = {c.external_id for c in crashing.published}
    # Every published change has its status row: were the item deleted before the next pass,
    # the deletion would still reach the CRM (no orphaned meeting).
    assert published_before <= set(crashing.disk)

    world.links.links = crashing.disk
    world.sink = RecordingSink()
    await world.engine.pull()
    published = published_before | {c.external_id for c in world.sink.published}
    assert published == {f"e{i}.ics" for i in range(600)}
    assert await world.links.with_pending() == []


async def test_a_series_and_its_edited_occurrence_are_two_items_sharing_a_uid() -> None:
    """RFC 5545 §3.8.4.4: an override shares the series' UID. Matching by UID must not make
    the occurrence replace the series' row (nor the reverse)."""
    world = World()
    start = NOW + timedelta(days=1)
    series = fields_of(meeting(subject="Weekly")).model_copy(
        update={"recurrence": Recurrence(rrule=["FREQ=WEEKLY;COUNT=4"])}
    )
    moved = fields_of(meeting(subject="Weekly (moved)")).model_copy(
        update={"recurrence_id": start + timedelta(weeks=1)}
    )
    world.calendar.user_put(CAL, "s.ics", series, ical_uid="weekly@app")
    world.calendar.user_put(CAL, "s.ics#20261130T090000Z", moved, ical_uid="weekly@app")
    # One resource: CalDAV gives the series and its overrides the resource's one ETag.
    world.calendar.items[CAL]["s.ics#20261130T090000Z"].tag = world.calendar.items[CAL]["s.ics"].tag
    for full in (False, True):
        await world.engine.pull(full=full)
        assert sorted(world.links.links) == ["s.ics", "s.ics#20261130T090000Z"]
    assert sorted(c.external_id for c in world.sink.published) == [
        "s.ics",
        "s.ics#20261130T090000Z",
    ]


async def test_an_occurrence_edit_overtaking_its_series_confirmation_goes_into_its_item() -> None:
    """Each meeting's events are keyed by its own id: the first CRM edit of one occurrence can
    arrive before the confirmation of the imported series (another partition). It still goes
    into the series' item, found by the UID they share, and is not dropped."""
    world = World()
    first = NOW + timedelta(days=1)
    series = fields_of(meeting(subject="Weekly")).model_copy(
        update={"recurrence": Recurrence(rrule=["FREQ=WEEKLY;COUNT=4"])}
    )
    world.calendar.user_put(CAL, "s.ics", series, ical_uid="weekly@app")
    await world.engine.pull()  # imported; the CRM's confirmation has not come back yet
    imported = await world.links.by_external_id("s.ics")
    assert imported is not None
    assert imported.crm_meeting_id is None
    edited = meeting(
        subject="Weekly (customer visit)",
        ical_uid="weekly@app",
        series_id=uuid4(),
        recurrence_id=first + timedelta(weeks=1),
    )
    plan = await world.engine.push(CrmChange(edited))
    assert plan.action is Outbound.UPDATE
    occurrence = f"s.ics#{(first + timedelta(weeks=1)).strftime('%Y%m%dT%H%M%SZ')}"
    assert occurrence in world.items()


async def test_a_full_listing_knows_a_series_by_its_own_version_not_an_occurrences() -> None:
    """Google and EWS give an edited occurrence a version of its own: the series must still be
    named by its own, or every full listing reads every series with an edited occurrence."""
    world = World()
    start = NOW + timedelta(days=1)
    series = fields_of(meeting(subject="Weekly")).model_copy(
        update={"recurrence": Recurrence(rrule=["FREQ=WEEKLY;COUNT=4"])}
    )
    moved = fields_of(meeting(subject="Weekly (moved)")).model_copy(
        update={"recurrence_id": start + timedelta(weeks=1)}
    )
    world.calendar.user_put(CAL, "s", series, ical_uid="weekly@app")
    world.calendar.user_put(CAL, "s#20261130T090000Z", moved, ical_uid="weekly@app")
    await world.engine.pull(full=True)
    asked: list[Mapping[str, str | None]] = []
    listing = world.calendar.list_window

    async def spied(calendar_id: str, window: SyncWindow, known: Mapping[str, str | None]) -> Any:
        asked.append(dict(known))
        return await listing(calendar_id, window, known)

    world.calendar.list_window = spied  # type: ignore[method-assign]
    await world.engine.pull(full=True)
    assert asked[0]["s"] == world.calendar.items[CAL]["s"].tag
