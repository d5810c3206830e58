"""EWS recurrence patterns as RRULEs (no server), checked by expanding them with dateutil: the
dates a user sees in Outlook are the dates the CRM shows."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from dateutil.rrule import rrulestr
from exchangelib import CalendarItem, EWSDate, EWSDateTime, EWSTimeZone
from exchangelib.recurrence import (
    AbsoluteMonthlyPattern,
    AbsoluteYearlyPattern,
    DailyPattern,
    DeletedOccurrence,
    Recurrence,
    RelativeMonthlyPattern,
    RelativeYearlyPattern,
    WeeklyPattern,
)

from sync_exchange.ews.recurrence import recurrence_of

FIRST = datetime(2026, 12, 1, 9, 0)  # a Tuesday


def dates(pattern: object, count: int = 4, first: datetime = FIRST) -> list[date]:
    item = CalendarItem(recurrence=Recurrence(pattern=pattern, start=EWSDate(2026, 12, 1)))
    found = recurrence_of(item, "Europe/Berlin")
    assert found is not None
    rule = rrulestr(found.rrule[0], dtstart=first)
    return [d.date() for d in rule[:count]]  # type: ignore[index]


def test_daily_every_third_day() -> None:
    assert dates(DailyPattern(interval=3), 3) == [date(2026, 12, d) for d in (1, 4, 7)]


def test_weekly_on_two_days_every_other_week() -> None:
    pattern = WeeklyPattern(interval=2, weekdays=["Tuesday", "Thursday"], first_day_of_week=1)
    assert dates(pattern) == [date(2026, 12, d) for d in (1, 3, 15, 17)]


def test_the_same_day_of_every_month() -> None:
    assert dates(AbsoluteMonthlyPattern(interval=1, day_of_month=1), 3) == [
        date(2026, 12, 1),
        date(2027, 1, 1),
        date(2027, 2, 1),
    ]


@pytest.mark.parametrize(
    ("weekday", "week", "expected"),
    [
        ("Tuesday", "First", [date(2026, 12, 1), date(2027, 1, 5)]),
        ("Friday", "Last", [date(2026, 12, 25), date(2027, 1, 29)]),
        ("Weekday", "Last", [date(2026, 12, 31), date(2027, 1, 29)]),
        ("WeekendDay", "First", [date(2026, 12, 5), date(2027, 1, 2)]),
        ("Day", "Last", [date(2026, 12, 31), date(2027, 1, 31)]),
    ],
)
def test_the_nth_day_of_the_month(weekday: str, week: str, expected: list[date]) -> None:
    pattern = RelativeMonthlyPattern(interval=1, weekday=weekday, week_number=week)
    assert dates(pattern, 2) == expected


def test_yearly_patterns() -> None:
    assert dates(AbsoluteYearlyPattern(day_of_month=24, month="December"), 2) == [
        date(2026, 12, 24),
        date(2027, 12, 24),
    ]
    second_thursday_of_march = RelativeYearlyPattern(weekday=4, week_number=2, month=3)
    assert dates(second_thursday_of_march, 2) == [date(2027, 3, 11), date(2028, 3, 9)]


def test_a_numbered_range_is_a_count_and_an_end_date_its_whole_last_day() -> None:
    numbered = Recurrence(pattern=DailyPattern(interval=1), start=EWSDate(2026, 12, 1), number=5)
    ended = Recurrence(
        pattern=DailyPattern(interval=1), start=EWSDate(2026, 12, 1), end=EWSDate(2026, 12, 3)
    )
    counted = recurrence_of(CalendarItem(recurrence=numbered), "Europe/Berlin")
    until = recurrence_of(CalendarItem(recurrence=ended), "Europe/Berlin")
    assert counted is not None
    assert until is not None
    assert counted.rrule == ["FREQ=DAILY;INTERVAL=1;COUNT=5"]
    # 3 December ends at midnight in Berlin: 23:00 UTC, one second before.
    assert until.rrule == ["FREQ=DAILY;INTERVAL=1;UNTIL=20261203T225959Z"]
    all_day = CalendarItem(is_all_day=True, recurrence=ended)
    assert recurrence_of(all_day, "Europe/Berlin").rrule[-1].endswith("UNTIL=20261203")  # type: ignore[union-attr]


def test_deleted_occurrences_are_excluded_instants_or_days() -> None:
    zone = EWSTimeZone("UTC")
    series = Recurrence(pattern=DailyPattern(interval=1), start=EWSDate(2026, 12, 1))
    timed = CalendarItem(recurrence=series)
    timed.deleted_occurrences = [
        DeletedOccurrence(start=EWSDateTime(2026, 12, 2, 8, 0, tzinfo=zone))
    ]
    found = recurrence_of(timed, "Europe/Berlin")
    assert found is not None
    assert found.exdates == [datetime(2026, 12, 2, 8, 0, tzinfo=UTC)]
    all_day = CalendarItem(is_all_day=True, recurrence=series)
    # Midnight in Berlin is 23:00 UTC the day before.
    all_day.deleted_occurrences = [
        DeletedOccurrence(start=EWSDateTime(2026, 12, 1, 23, 0, tzinfo=zone))
    ]
    found = recurrence_of(all_day, "Europe/Berlin")
    assert found is not None
    assert found.exdates == [date(2026, 12, 2)]


def test_a_single_item_has_no_series() -> None:
    assert recurrence_of(CalendarItem(subject="once"), "UTC") is None
