"""Recurring series in the EWS stand-in, driven only through exchangelib's public API, as a
client of Exchange would: masters, occurrences by index and by id, exceptions, deleted
occurrences, CalendarView expansion and what SyncFolderItems reports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from exchangelib import (
    DELEGATE,
    UTC,
    Account,
    Build,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDate,
    EWSDateTime,
    EWSTimeZone,
    Version,
)
from exchangelib.errors import (
    ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange,
    ErrorCalendarOccurrenceIsDeletedFromRecurrence,
    ErrorItemNotFound,
)
from exchangelib.fields import FRIDAY, MONDAY, THURSDAY, WEDNESDAY
from exchangelib.folders import Calendar
from exchangelib.recurrence import (
    AbsoluteMonthlyPattern,
    AbsoluteYearlyPattern,
    DailyPattern,
    EndDatePattern,
    NoEndPattern,
    NumberedPattern,
    Recurrence,
    RelativeMonthlyPattern,
    RelativeYearlyPattern,
    WeeklyPattern,
)

from calsync_localinfra.ews import LocalExchangeServer

pytestmark = pytest.mark.integration

ALICE, PASSWORD = "alice@contoso.test", "Passw0rd!"
BERLIN = EWSTimeZone("Europe/Berlin")
NO_MAILS = {"send_meeting_invitations": "SendToNone"}


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalExchangeServer]:
    with LocalExchangeServer(tmp_path_factory.mktemp("ews"), accounts={ALICE: PASSWORD}) as server:
        yield server


@pytest.fixture
def alice(exchange: LocalExchangeServer) -> Iterator[Account]:
    config = Configuration(
        service_endpoint=exchange.ews_url,
        credentials=Credentials(ALICE, PASSWORD),
        auth_type=None,
        version=Version(build=Build(15, 1, 2507, 6)),
    )
    account = Account(
        ALICE, config=config, autodiscover=False, access_type=DELEGATE, default_timezone=UTC
    )
    yield account
    account.protocol.close()


@pytest.fixture
def calendar(
    exchange: LocalExchangeServer, alice: Account, request: pytest.FixtureRequest
) -> Calendar:
    """A calendar of its own per test, so views and syncs see only that test's items."""
    return Calendar(root=alice.root, id=exchange.add_calendar(ALICE, request.node.name))


def berlin(month: int, day: int, hour: int = 10, year: int = 2030) -> EWSDateTime:
    return EWSDateTime(year, month, day, hour, 0, tzinfo=BERLIN)


def utc(month: int, day: int, hour: int = 0, year: int = 2030) -> EWSDateTime:
    return EWSDateTime(year, month, day, hour, 0, tzinfo=UTC)


def weekly_standup(calendar: Calendar, account: Account, number: int = 5) -> CalendarItem:
    """Mondays 10:00-10:30 Berlin from 4 March 2030 (so across the DST change of 31 March)."""
    item = CalendarItem(
        folder=calendar,
        account=account,
        subject="Stand-up",
        location="Room 1",
        start=berlin(3, 4),
        end=berlin(3, 4).replace(minute=30),
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[MONDAY]),
            start=EWSDate(2030, 3, 4),
            number=number,
        ),
    )
    item.save(**NO_MAILS)
    return item


def fetched(account: Account, item: CalendarItem) -> CalendarItem:
    [found] = account.fetch(ids=[item])
    assert isinstance(found, CalendarItem)
    return found


# --- the master ---------------------------------------------------------------------------------


def test_a_master_echoes_its_recurrence(alice: Account, calendar: Calendar) -> None:
    master = fetched(alice, weekly_standup(calendar, alice))
    assert master.type == "RecurringMaster"
    assert master.is_recurring is False  # documented Exchange value for the organizer's master
    assert isinstance(master.recurrence.pattern, WeeklyPattern)
    assert master.recurrence.pattern.weekdays == [1]  # ISO weekday numbers once parsed
    assert master.recurrence.pattern.interval == 1
    assert master.recurrence.boundary == NumberedPattern(start=EWSDate(2030, 3, 4), number=5)
    assert (master.first_occurrence.start, master.first_occurrence.end) == (
        berlin(3, 4),
        berlin(3, 4).replace(minute=30),
    )
    assert master.first_occurrence.original_start == berlin(3, 4)
    assert master.last_occurrence.start == berlin(4, 1)  # 10:00 in summer time too
    assert master.last_occurrence.start.astimezone(UTC) == utc(4, 1, 8)
    assert master.modified_occurrences is None
    assert master.deleted_occurrences is None


def test_the_master_starts_at_its_first_occurrence(alice: Account, calendar: Calendar) -> None:
    item = CalendarItem(
        folder=calendar,
        account=alice,
        subject="Thursday review",
        start=berlin(3, 4, 15),  # a Monday: the first Thursday on or after it is 7 March
        end=berlin(3, 4, 16),
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=2, weekdays=[THURSDAY], first_day_of_week=MONDAY),
            start=EWSDate(2030, 3, 4),
        ),
    )
    item.save(**NO_MAILS)
    master = fetched(alice, item)
    assert (master.start, master.end) == (berlin(3, 7, 15), berlin(3, 7, 16))
    assert isinstance(master.recurrence.boundary, NoEndPattern)
    assert master.last_occurrence is None  # an endless series has none


@pytest.mark.parametrize(
    ("pattern", "expected_days"),
    [
        (DailyPattern(interval=3), [(3, 4), (3, 7), (3, 10)]),
        (WeeklyPattern(interval=1, weekdays=[MONDAY, FRIDAY]), [(3, 4), (3, 8), (3, 11)]),
        (AbsoluteMonthlyPattern(interval=1, day_of_month=31), [(3, 31), (4, 30), (5, 31)]),
        (
            RelativeMonthlyPattern(interval=1, weekday=WEDNESDAY, week_number=5),
            [(3, 27), (4, 24), (5, 29)],
        ),
        (AbsoluteYearlyPattern(day_of_month=15, month=4), [(4, 15), (4, 15, 2031), (4, 15, 2032)]),
        (
            RelativeYearlyPattern(weekday=THURSDAY, week_number=4, month=11),
            [(11, 28), (11, 27, 2031), (11, 25, 2032)],
        ),
    ],
)
def test_each_pattern_expands_as_exchange_does(
    alice: Account, calendar: Calendar, pattern: object, expected_days: list[tuple[int, ...]]
) -> None:
    item = CalendarItem(
        folder=calendar,
        account=alice,
        subject="patterned",
        start=berlin(3, 4, 9),
        end=berlin(3, 4, 10),
        recurrence=Recurrence(pattern=pattern, start=EWSDate(2030, 3, 4), number=3),
    )
    item.save(**NO_MAILS)
    seen = [o.start for o in calendar.view(start=utc(1, 1), end=utc(1, 1, year=2033))]
    assert seen == [berlin(m, d, 9, *y) for m, d, *y in expected_days]
    assert fetched(alice, item).last_occurrence.start == seen[-1]


def test_an_end_date_range_is_inclusive(alice: Account, calendar: Calendar) -> None:
    item = CalendarItem(
        folder=calendar,
        account=alice,
        subject="daily",
        start=berlin(3, 4),
        end=berlin(3, 4, 11),
        recurrence=Recurrence(
            pattern=DailyPattern(interval=1), start=EWSDate(2030, 3, 4), end=EWSDate(2030, 3, 8)
        ),
    )
    item.save(**NO_MAILS)
    master = fetched(alice, item)
    assert master.recurrence.boundary == EndDatePattern(
        start=EWSDate(2030, 3, 4), end=EWSDate(2030, 3, 8)
    )
    assert master.last_occurrence.start == berlin(3, 8)


# --- occurrences and exceptions -----------------------------------------------------------------


def test_an_occurrence_by_index(alice: Account, calendar: Calendar) -> None:
    master = weekly_standup(calendar, alice)
    third = master.occurrence(3)
    third.refresh()
    assert third.type == "Occurrence"
    assert third.id != master.id
    assert (third.start, third.end) == (berlin(3, 18), berlin(3, 18).replace(minute=30))
    assert third.original_start == berlin(3, 18)
    assert third.recurrence_id == berlin(3, 18)
    assert (third.subject, third.location, third.uid) == (
        "Stand-up",
        "Room 1",
        fetched(alice, master).uid,
    )
    assert third.is_recurring is True
    assert third.recurrence is None
    by_id = fetched(alice, third)
    assert (by_id.type, by_id.start) == ("Occurrence", berlin(3, 18))
    back = third.recurring_master()
    back.refresh()
    assert (back.id, back.type) == (master.id, "RecurringMaster")
    with pytest.raises(ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange):
        master.occurrence(6).refresh()


def test_editing_an_occurrence_makes_an_exception(alice: Account, calendar: Calendar) -> None:
    master = weekly_standup(calendar, alice)
    before = fetched(alice, master).changekey
    second = master.occurrence(2)
    second.refresh()
    second.subject = "Stand-up (moved)"
    second.start, second.end = berlin(3, 12, 14), berlin(3, 12, 15)
    second.save(update_fields=["subject", "start", "end"], **NO_MAILS)
    exception = fetched(alice, second)
    assert exception.type == "Exception"
    assert (exception.subject, exception.start) == ("Stand-up (moved)", berlin(3, 12, 14))
    assert exception.original_start == berlin(3, 11)
    assert exception.location == "Room 1"  # not changed, so still the master's
    master.refresh()
    assert master.changekey != before
    [modified] = master.modified_occurrences
    assert (modified.id, modified.changekey) == (exception.id, exception.changekey)
    assert (modified.start, modified.end) == (berlin(3, 12, 14), berlin(3, 12, 15))
    assert modified.original_start == berlin(3, 11)
    assert master.subject == "Stand-up"


def test_master_edits_reach_the_occurrences(alice: Account, calendar: Calendar) -> None:
    master = weekly_standup(calendar, alice)
    kept = master.occurrence(2)
    kept.refresh()
    kept.subject = "own subject"
    kept.save(update_fields=["subject"], **NO_MAILS)
    master.refresh()
    master.subject, master.location = "Daily stand-up", "Room 2"
    master.save(update_fields=["subject", "location"], **NO_MAILS)
    first, second = (fetched(alice, master.occurrence(i)) for i in (1, 2))
    assert (first.subject, first.location) == ("Daily stand-up", "Room 2")
    assert (second.subject, second.location, second.type) == ("own subject", "Room 2", "Exception")


def test_deleting_occurrences(alice: Account, calendar: Calendar) -> None:
    master = weekly_standup(calendar, alice)
    changed = master.occurrence(4)
    changed.refresh()
    changed.subject = "changed, then deleted"
    changed.save(update_fields=["subject"], **NO_MAILS)
    master.occurrence(2).delete(send_meeting_cancellations="SendToNone")
    changed_id = changed.id
    changed.delete(send_meeting_cancellations="SendToNone")
    master.refresh()
    assert master.modified_occurrences is None
    assert [d.start for d in master.deleted_occurrences] == [berlin(3, 11), berlin(3, 25)]
    with pytest.raises(ErrorCalendarOccurrenceIsDeletedFromRecurrence):
        master.occurrence(2).refresh()
    with pytest.raises(ErrorCalendarOccurrenceIsDeletedFromRecurrence):
        list(alice.fetch(ids=[(changed_id, None)]))
    seen = [o.start for o in calendar.view(start=utc(3, 1), end=utc(5, 1))]
    assert seen == [berlin(3, 4), berlin(3, 18), berlin(4, 1)]


def test_a_new_pattern_drops_exceptions(alice: Account, calendar: Calendar) -> None:
    master = weekly_standup(calendar, alice)
    moved = master.occurrence(2)
    moved.refresh()
    moved.subject = "exception"
    moved.save(update_fields=["subject"], **NO_MAILS)
    master.occurrence(3).delete(send_meeting_cancellations="SendToNone")
    master.refresh()
    master.recurrence = Recurrence(
        pattern=DailyPattern(interval=1), start=EWSDate(2030, 3, 4), number=3
    )
    master.save(update_fields=["recurrence"], **NO_MAILS)
    master.refresh()
    assert (master.modified_occurrences, master.deleted_occurrences) == (None, None)
    assert master.last_occurrence.start == berlin(3, 6)
    assert [o.subject for o in calendar.view(start=utc(3, 1), end=utc(5, 1))] == ["Stand-up"] * 3


def test_deleting_the_master_deletes_the_series(alice: Account, calendar: Calendar) -> None:
    master = weekly_standup(calendar, alice)
    occurrence_id = fetched(alice, master.occurrence(1)).id
    master.delete(send_meeting_cancellations="SendToNone")
    assert list(calendar.view(start=utc(3, 1), end=utc(5, 1))) == []
    [gone] = alice.fetch(ids=[(occurrence_id, None)])
    assert isinstance(gone, ErrorItemNotFound)


# --- views and sync -----------------------------------------------------------------------------


def test_a_calendar_view_expands_series(alice: Account, calendar: Calendar) -> None:
    master = weekly_standup(calendar, alice)
    single = CalendarItem(
        folder=calendar,
        account=alice,
        subject="one-off",
        start=berlin(3, 19),
        end=berlin(3, 19, 11),
    )
    single.save(**NO_MAILS)
    moved = master.occurrence(3)
    moved.refresh()
    moved.start, moved.end = berlin(3, 20, 8), berlin(3, 20, 9)
    moved.save(update_fields=["start", "end"], **NO_MAILS)
    view = calendar.view(start=utc(3, 11), end=utc(3, 26)).only(
        "subject", "start", "end", "type", "uid", "changekey"
    )
    found = [(o.subject, o.start, o.type) for o in view]
    assert found == [
        ("Stand-up", berlin(3, 11), "Occurrence"),
        ("one-off", berlin(3, 19), "Single"),
        ("Stand-up", berlin(3, 20, 8), "Exception"),
        ("Stand-up", berlin(3, 25), "Occurrence"),
    ]
    assert all(o.id and o.changekey and o.uid for o in view)
    assert [i.type for i in calendar.all().only("type")] == ["RecurringMaster", "Single"]
    assert len(list(calendar.view(start=utc(3, 1), end=utc(5, 1), max_items=2))) == 2


def test_sync_sees_only_the_master(alice: Account, calendar: Calendar) -> None:
    master = weekly_standup(calendar, alice)
    fields = ["changekey", "subject", "type"]
    [(kind, item)] = list(calendar.sync_items(only_fields=fields))
    assert (kind, item.id, item.type) == ("create", master.id, "RecurringMaster")
    state = calendar.item_sync_state
    second = master.occurrence(2)
    second.refresh()
    second.subject = "exception"
    second.save(update_fields=["subject"], **NO_MAILS)
    [(kind, item)] = list(calendar.sync_items(sync_state=state, only_fields=fields))
    assert (kind, item.id, item.subject) == ("update", master.id, "Stand-up")
    state = calendar.item_sync_state
    master.occurrence(3).delete(send_meeting_cancellations="SendToNone")
    [(kind, item)] = list(calendar.sync_items(sync_state=state, only_fields=fields))
    assert (kind, item.id) == ("update", master.id)
    state, master_id = calendar.item_sync_state, master.id
    master.delete(send_meeting_cancellations="SendToNone")
    [(kind, item)] = list(calendar.sync_items(sync_state=state, only_fields=fields))
    assert (kind, item.id) == ("delete", master_id)


def test_full_saves_keep_the_series(alice: Account, calendar: Calendar) -> None:
    """exchangelib's save() without update_fields re-sends every field: an unchanged pattern
    keeps the exceptions, and an exception's re-sent UID is no change."""
    master = weekly_standup(calendar, alice)
    second = master.occurrence(2)
    second.refresh()
    second.subject = "exception"
    second.save(**NO_MAILS)
    second.refresh()
    second.location = "Room 9"
    second.save(**NO_MAILS)
    master.refresh()
    master.subject = "renamed series"
    master.save(**NO_MAILS)
    master.refresh()
    [modified] = master.modified_occurrences
    exception = fetched(alice, second)
    assert (exception.subject, exception.location) == ("exception", "Room 9")
    assert modified.changekey == exception.changekey
    assert fetched(alice, master.occurrence(1)).subject == "renamed series"


def test_an_all_day_series(alice: Account, calendar: Calendar) -> None:
    item = CalendarItem(
        folder=calendar,
        account=alice,
        subject="Office closed",
        start=EWSDate(2030, 3, 29),
        end=EWSDate(2030, 3, 29),  # exchangelib's all-day ends are inclusive
        is_all_day=True,
        recurrence=Recurrence(
            pattern=DailyPattern(interval=1), start=EWSDate(2030, 3, 29), number=3
        ),
    )
    item.save(**NO_MAILS)
    days = [(o.start, o.end) for o in calendar.view(start=utc(3, 1), end=utc(5, 1))]
    assert days == [(EWSDate(2030, 3, d), EWSDate(2030, 3, d)) for d in (29, 30, 31)]
