"""Recurring series on Exchange Server, on the EWS stand-in with the real exchangelib: a series
made in Outlook reaches the CRM as its pattern, an occurrence edited or deleted in Outlook as an
exception or an excluded date, and an occurrence edited or deleted in the CRM lands on that
occurrence only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import exchangelib
import pytest
from exchangelib.folders import Calendar as CalendarFolder
from exchangelib.recurrence import Recurrence, WeeklyPattern

from calsync_contracts.internal import Credentials
from calsync_contracts.meeting import MeetingSnapshot, TimedSpan
from calsync_localinfra.ews import LocalExchangeServer
from sync_core.items import occurrence_id
from sync_core.ports import OutboundEvent
from sync_core.window import SyncWindow
from sync_exchange.ews.calendar import EwsCalendar
from sync_exchange.ews.session import Mailbox

pytestmark = pytest.mark.integration

PASSWORD = "mailbox-password"
# Next week's Monday, 09:00 UTC (10:00 in Berlin): a weekly series of six Mondays.
MONDAY = (datetime.now(UTC) + timedelta(days=7 - datetime.now(UTC).weekday())).replace(
    hour=9, minute=0, second=0, microsecond=0
)
WINDOW = SyncWindow.around(datetime.now(UTC), 3, 12)


def week(n: int) -> datetime:
    """The n-th Monday of the series (1-based)."""
    return MONDAY + timedelta(weeks=n - 1)


class Outlook:
    """The mailbox owner's own calendar program: exchangelib with their login."""

    def __init__(self, ews_url: str, email: str, folder_id: str) -> None:
        self.mailbox = Mailbox(ews_url, Credentials(kind="basic", username=email, secret=PASSWORD))
        self.account, self.folder_id = self.mailbox.account, folder_id

    def make_series(self) -> str:
        folder = CalendarFolder(root=self.account.root, id=self.folder_id)
        zone = exchangelib.EWSTimeZone("Europe/Berlin")
        item = exchangelib.CalendarItem(
            account=self.account,
            folder=folder,
            subject="Weekly sync",
            start=exchangelib.EWSDateTime.from_datetime(week(1)).astimezone(zone),
            end=exchangelib.EWSDateTime.from_datetime(week(1) + timedelta(hours=1)).astimezone(
                zone
            ),
            recurrence=Recurrence(
                pattern=WeeklyPattern(interval=1, weekdays=["Monday"]),
                start=week(1).astimezone(ZoneInfo("Europe/Berlin")).date(),
                number=6,
            ),
        )
        item.save()
        return str(item.id)

    def occurrence(self, master_id: str, index: int) -> Any:
        (master,) = self.account.fetch(ids=[(master_id, None)])
        found = master.occurrence(index)
        found.refresh()
        return found

    def rename_occurrence(self, master_id: str, index: int, subject: str) -> None:
        occurrence = self.occurrence(master_id, index)
        occurrence.subject = subject
        occurrence.save(update_fields=["subject"])

    def delete_occurrence(self, master_id: str, index: int) -> None:
        self.occurrence(master_id, index).delete()

    def master(self, master_id: str) -> Any:
        (master,) = self.account.fetch(ids=[(master_id, None)])
        return master


@pytest.fixture
async def mailbox(
    exchange_server: LocalExchangeServer,
) -> AsyncIterator[tuple[EwsCalendar, Outlook]]:
    email = f"s{uuid4().hex[:10]}@corp.test"
    folder_id = await asyncio.to_thread(exchange_server.add_account, email, PASSWORD)
    ours = Mailbox(
        exchange_server.ews_url, Credentials(kind="basic", username=email, secret=PASSWORD)
    )
    outlook = Outlook(exchange_server.ews_url, email, folder_id)
    yield EwsCalendar(ours), outlook
    ours.close()
    outlook.mailbox.close()


def crm_occurrence(subject: str, start: datetime) -> MeetingSnapshot:
    return MeetingSnapshot.model_validate(
        {
            "id": uuid4(),
            "tenant_id": uuid4(),
            "ical_uid": "series@corp.test",
            "version": 2,
            "owner_user_id": uuid4(),
            "subject": subject,
            "time": TimedSpan(
                start=start, end=start + timedelta(hours=1), timezone="Europe/Berlin"
            ),
        }
    )


async def test_a_series_from_outlook_arrives_as_its_pattern(
    mailbox: tuple[EwsCalendar, Outlook],
) -> None:
    calendar, outlook = mailbox
    master_id = await asyncio.to_thread(outlook.make_series)
    listing = await calendar.list_window(outlook.folder_id, WINDOW, {})
    (series,) = listing.items
    assert series.external_id == master_id
    assert series.fields is not None
    assert series.fields.recurrence is not None
    assert series.fields.recurrence.rrule == ["FREQ=WEEKLY;INTERVAL=1;BYDAY=MO;WKST=MO;COUNT=6"]
    assert series.fields.time.start == week(1)  # type: ignore[union-attr]


async def test_occurrences_edited_and_deleted_in_outlook(
    mailbox: tuple[EwsCalendar, Outlook],
) -> None:
    calendar, outlook = mailbox
    master_id = await asyncio.to_thread(outlook.make_series)
    listing = await calendar.list_window(outlook.folder_id, WINDOW, {})
    assert listing.cursor is not None
    await asyncio.to_thread(outlook.rename_occurrence, master_id, 2, "Moved agenda")
    await asyncio.to_thread(outlook.delete_occurrence, master_id, 3)

    batch = await calendar.changes_since(outlook.folder_id, listing.cursor)
    by_id = {item.external_id: item for item in batch.changed}
    master, edited = by_id[master_id], by_id[occurrence_id(master_id, week(2))]
    assert master.fields is not None
    assert master.fields.recurrence is not None
    assert master.fields.recurrence.exdates == [week(3)]
    assert edited.fields is not None
    assert (edited.fields.subject, edited.fields.recurrence_id) == ("Moved agenda", week(2))
    assert occurrence_id(master_id, week(3)) in batch.deleted
    fetched = await calendar.fetch(outlook.folder_id, occurrence_id(master_id, week(2)))
    assert fetched is not None
    assert fetched.version_tag == edited.version_tag

    # A full listing knowing the series names its exception unchanged, not gone.
    known = {master_id: master.version_tag, edited.external_id: edited.version_tag}
    again = await calendar.list_window(outlook.folder_id, WINDOW, known)
    assert again.items == []
    assert set(again.unchanged) == set(known)


async def test_occurrences_edited_and_deleted_in_the_crm(
    mailbox: tuple[EwsCalendar, Outlook],
) -> None:
    calendar, outlook = mailbox
    master_id = await asyncio.to_thread(outlook.make_series)
    (series,) = (await calendar.list_window(outlook.folder_id, WINDOW, {})).items
    fourth = occurrence_id(master_id, week(4))
    written = await calendar.update(
        outlook.folder_id,
        fourth,
        OutboundEvent(crm_occurrence("Board visit", week(4) + timedelta(hours=2))),
        series.version_tag,  # a first edit names its series' version
    )
    assert written.external_id == fourth
    fifth = occurrence_id(master_id, week(5))
    await calendar.delete(outlook.folder_id, fifth, series.version_tag)

    edited = await asyncio.to_thread(outlook.occurrence, master_id, 4)
    assert (edited.subject, edited.type) == ("Board visit", "Exception")
    assert edited.start == week(4) + timedelta(hours=2)
    master = await asyncio.to_thread(outlook.master, master_id)
    assert [d.start for d in master.deleted_occurrences] == [week(5)]
    assert master.subject == "Weekly sync"  # the rest of the series is untouched
    again = await calendar.fetch(outlook.folder_id, fourth)
    assert again is not None
    assert again.version_tag == written.version_tag
