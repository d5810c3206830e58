"""A recurring master's EWS pattern as the CRM's ``Recurrence`` (RFC 5545 RRULE and EXDATE).
Pure: exchangelib's recurrence types hold data only.

EWS patterns ("Recurrence patterns and time zones in EWS") map one to one onto RRULE parts:
Daily → FREQ=DAILY; Weekly → FREQ=WEEKLY;BYDAY (with WKST); AbsoluteMonthly → BYMONTHDAY;
RelativeMonthly → BYDAY with an ordinal (Last → -1), or for "Day"/"Weekday"/"WeekendDay" a
BYSETPOS over those days; the yearly ones add BYMONTH. Ranges: NumberedRecurrence → COUNT,
EndDateRecurrence → UNTIL (its last day, inclusive in both). Deleted occurrences → EXDATE.
Task regeneration patterns never occur on calendar items.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from exchangelib.fields import MONTHS, WEEK_NUMBERS, WEEKDAY_NAMES, WEEKDAYS
from exchangelib.recurrence import (
    AbsoluteMonthlyPattern,
    AbsoluteYearlyPattern,
    DailyPattern,
    EndDatePattern,
    NumberedPattern,
    RelativeMonthlyPattern,
    RelativeYearlyPattern,
    WeeklyPattern,
)

from calsync_contracts.meeting import Recurrence
from sync_core.errors import UnreadableItem

DAY_CODES = dict(zip(WEEKDAY_NAMES, ("MO", "TU", "WE", "TH", "FR", "SA", "SU"), strict=True))
ORDINALS = {"First": 1, "Second": 2, "Third": 3, "Fourth": 4, "Last": -1}
DAY_SETS = {"Day": list(DAY_CODES.values()), "Weekday": ["MO", "TU", "WE", "TH", "FR"]}
DAY_SETS["WeekendDay"] = ["SA", "SU"]


def recurrence_of(item: Any, zone: str) -> Recurrence | None:
    """The series of a recurring master (None for any other item); ``zone`` is the series'
    IANA zone, in which an all-day series' deleted occurrences fall on their dates."""
    recurrence = getattr(item, "recurrence", None)
    if recurrence is None or recurrence.pattern is None:
        return None
    rule = _pattern(recurrence.pattern) + _range(recurrence.boundary, bool(item.is_all_day), zone)
    exdates: list[datetime | date] = []
    for deleted in item.deleted_occurrences or []:
        instant = datetime.fromtimestamp(deleted.start.timestamp(), tz=UTC)
        exdates.append(instant.astimezone(ZoneInfo(zone)).date() if item.is_all_day else instant)
    return Recurrence(rrule=[rule], exdates=exdates)


def _pattern(pattern: Any) -> str:
    if isinstance(pattern, DailyPattern):
        return f"FREQ=DAILY;INTERVAL={pattern.interval}"
    if isinstance(pattern, WeeklyPattern):
        days = ",".join(DAY_CODES[_name(d, WEEKDAY_NAMES)] for d in pattern.weekdays or [])
        first = DAY_CODES[_name(pattern.first_day_of_week or 1, WEEKDAY_NAMES)]
        return f"FREQ=WEEKLY;INTERVAL={pattern.interval};BYDAY={days};WKST={first}"
    if isinstance(pattern, AbsoluteMonthlyPattern):
        return f"FREQ=MONTHLY;INTERVAL={pattern.interval};BYMONTHDAY={pattern.day_of_month}"
    if isinstance(pattern, RelativeMonthlyPattern):
        return f"FREQ=MONTHLY;INTERVAL={pattern.interval};" + _nth(pattern)
    if isinstance(pattern, AbsoluteYearlyPattern):
        month = MONTHS.index(_name(pattern.month, MONTHS)) + 1
        return f"FREQ=YEARLY;BYMONTH={month};BYMONTHDAY={pattern.day_of_month}"
    if isinstance(pattern, RelativeYearlyPattern):
        month = MONTHS.index(_name(pattern.month, MONTHS)) + 1
        return f"FREQ=YEARLY;BYMONTH={month};" + _nth(pattern)
    raise UnreadableItem(f"the series' pattern is not a calendar's ({type(pattern).__name__})")


def _nth(pattern: Any) -> str:
    """The n-th (or last) weekday of the month, or of a set of days ("the last weekday")."""
    ordinal = ORDINALS[_name(pattern.week_number, WEEK_NUMBERS)]
    weekday = _name(pattern.weekday, WEEKDAYS)
    if weekday in DAY_SETS:
        return f"BYDAY={','.join(DAY_SETS[weekday])};BYSETPOS={ordinal}"
    return f"BYDAY={ordinal}{DAY_CODES[weekday]}"


def _range(boundary: Any, all_day: bool, zone: str) -> str:
    if isinstance(boundary, NumberedPattern):
        return f";COUNT={boundary.number}"
    if isinstance(boundary, EndDatePattern):
        last_day = date.fromordinal(boundary.end.toordinal())
        if all_day:
            return f";UNTIL={last_day:%Y%m%d}"
        # RFC 5545 §3.3.10: with a zoned DTSTART, UNTIL is a UTC instant; the whole last day.
        ends = datetime.combine(last_day + timedelta(days=1), time(), ZoneInfo(zone))
        return f";UNTIL={(ends - timedelta(seconds=1)).astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return ""


def _name(value: int | str, names: tuple[str, ...]) -> str:
    """exchangelib gives enum values as 1-based indexes when parsed, as names when set."""
    return names[value - 1] if isinstance(value, int) else str(value)
