"""A calendar item's ``t:Recurrence`` ("Recurrence (RecurrenceType)", "Recurrence patterns and
EWS"): one pattern and one range, parsed into a rule and expanded to the series' instances as
local wall-clock times (a weekly 10:00 series stays at 10:00 across a DST change).

    patterns  DailyRecurrence, WeeklyRecurrence, AbsoluteMonthlyRecurrence,
              RelativeMonthlyRecurrence, AbsoluteYearlyRecurrence, RelativeYearlyRecurrence
    ranges    NoEndRecurrence, EndDateRecurrence (the end date is inclusive),
              NumberedRecurrence (1-999 instances)

The expansion is python-dateutil's ``rrule``. Where EWS and RFC 5545 differ it follows EWS: a
DayOfMonth past the month's end means the month's last day ("AbsoluteMonthlyRecurrence"), and
DaysOfWeek ``Day`` / ``Weekday`` / ``WeekendDay`` with a DayOfWeekIndex pick the n-th such day
("RelativeMonthlyRecurrence"). Task regeneration patterns are not calendar patterns.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from dateutil import rrule

from calsync_localinfra.ews.properties import names
from calsync_localinfra.ews.soap import Element, EwsError, local, malformed, tag

WEEKDAYS = {
    "Monday": rrule.MO,
    "Tuesday": rrule.TU,
    "Wednesday": rrule.WE,
    "Thursday": rrule.TH,
    "Friday": rrule.FR,
    "Saturday": rrule.SA,
    "Sunday": rrule.SU,
}
DAY_GROUPS = {
    "Day": list(WEEKDAYS.values()),
    "Weekday": [rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR],
    "WeekendDay": [rrule.SA, rrule.SU],
}
WEEK_INDEX = {"First": 1, "Second": 2, "Third": 3, "Fourth": 4, "Last": -1}
MONTHS = names(
    "January February March April May June July August September October November December"
)
Frequency = Literal[0, 1, 2, 3]
"""dateutil's YEARLY, MONTHLY, WEEKLY, DAILY."""
FREQUENCIES: dict[str, Frequency] = {
    "DailyRecurrence": rrule.DAILY,
    "WeeklyRecurrence": rrule.WEEKLY,
    "AbsoluteMonthlyRecurrence": rrule.MONTHLY,
    "RelativeMonthlyRecurrence": rrule.MONTHLY,
    "AbsoluteYearlyRecurrence": rrule.YEARLY,
    "RelativeYearlyRecurrence": rrule.YEARLY,
}
RANGES = {"NoEndRecurrence", "EndDateRecurrence", "NumberedRecurrence"}


def invalid(text: str) -> EwsError:
    return EwsError("ErrorCalendarInvalidRecurrence", f"The recurrence is invalid: {text}")


@dataclass(frozen=True)
class Rule:
    """A parsed Recurrence: the rrule arguments of its pattern and its range."""

    frequency: Frequency
    options: dict[str, Any] = field(hash=False)
    start_date: dt.date
    end_date: dt.date | None = None
    count: int | None = None

    def local_starts(self, time_of_day: dt.time) -> Iterator[dt.datetime]:
        """The instances' naive local start times, first to last (endless for NoEnd)."""
        start = dt.datetime.combine(self.start_date, time_of_day)
        until = None if self.end_date is None else dt.datetime.combine(self.end_date, dt.time.max)
        rule = rrule.rrule(
            self.frequency, dtstart=start, until=until, count=self.count, **self.options
        )
        return iter(rule)


def parse(recurrence: Element) -> Rule:
    """The Rule of a ``t:Recurrence``: exactly one pattern, then exactly one range."""
    children = {local(c.tag): c for c in recurrence}
    patterns = [name for name in children if name in FREQUENCIES]
    ranges = [name for name in children if name in RANGES]
    if len(patterns) != 1 or len(ranges) != 1 or len(children) != 2:
        raise malformed("Recurrence holds one calendar recurrence pattern and one range")
    pattern, span = children[patterns[0]], children[ranges[0]]
    start = _date(span, "StartDate")
    rule = Rule(FREQUENCIES[patterns[0]], _options(patterns[0], pattern), start)
    if ranges[0] == "EndDateRecurrence":
        end = _date(span, "EndDate")
        if end < start:
            raise invalid("EndDate is before StartDate")
        return Rule(rule.frequency, rule.options, start, end_date=end)
    if ranges[0] == "NumberedRecurrence":
        count = _int(span, "NumberOfOccurrences", 1, 999)
        return Rule(rule.frequency, rule.options, start, count=count)
    return rule


def _options(name: str, pattern: Element) -> dict[str, Any]:
    if name == "DailyRecurrence":
        return {"interval": _int(pattern, "Interval", 1, 999)}
    if name == "WeeklyRecurrence":
        named = _text(pattern, "DaysOfWeek").split()
        if not set(named) <= set(WEEKDAYS):
            raise invalid("WeeklyRecurrence DaysOfWeek names days of the week")
        days = [WEEKDAYS[d] for d in named]
        first = _text(pattern, "FirstDayOfWeek", "Monday")
        if first not in WEEKDAYS:
            raise invalid(f"FirstDayOfWeek {first!r}")
        interval = _int(pattern, "Interval", 1, 99)
        return {"interval": interval, "byweekday": days, "wkst": WEEKDAYS[first]}
    options: dict[str, Any] = {}
    if name.endswith("MonthlyRecurrence"):
        options["interval"] = _int(pattern, "Interval", 1, 99)
    else:
        month = _text(pattern, "Month")
        if month not in MONTHS:
            raise invalid(f"Month {month!r}")
        options["bymonth"] = MONTHS.index(month) + 1
    if name.startswith("Absolute"):
        return options | _day_of_month(_int(pattern, "DayOfMonth", 1, 31))
    days_of_week = _text(pattern, "DaysOfWeek")
    index = _text(pattern, "DayOfWeekIndex")
    groups = DAY_GROUPS | {name: [day] for name, day in WEEKDAYS.items()}
    if days_of_week not in groups or index not in WEEK_INDEX:
        raise invalid(f"DaysOfWeek {days_of_week!r} with DayOfWeekIndex {index!r}")
    return options | {"byweekday": groups[days_of_week], "bysetpos": WEEK_INDEX[index]}


def _day_of_month(day: int) -> dict[str, Any]:
    """Day 29-31 in a shorter month is its last day: the earlier of ``day`` and the last."""
    if day <= 28:
        return {"bymonthday": day}
    return {"bymonthday": (day, -1), "bysetpos": 1}


def _text(parent: Element, name: str, default: str | None = None) -> str:
    found = parent.find(tag("t", name))
    if found is None or not (found.text or "").strip():
        if default is not None:
            return default
        raise malformed(f"{local(parent.tag)} needs {name}")
    return (found.text or "").strip()


def _int(parent: Element, name: str, low: int, high: int) -> int:
    try:
        value = int(_text(parent, name))
    except ValueError:
        raise malformed(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise malformed(f"{name} must be between {low} and {high}")
    return value


def _date(parent: Element, name: str) -> dt.date:
    """An xs:date, possibly with a zone suffix (``2030-03-04Z``, ``2030-03-04+01:00``)."""
    text = _text(parent, name)
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise malformed(f"{name} {text!r} is not an xs:date") from None


def rendered(recurrence: Element, zone: ZoneInfo) -> Element:
    """The Recurrence as Exchange answers it: StartDate / EndDate carry the series' UTC offset
    (``2030-03-04+01:00``, ``Z`` for none), which exchangelib reads as dates."""
    answer = copy.deepcopy(recurrence)
    for name in ("StartDate", "EndDate"):
        for elem in answer.iter(tag("t", name)):
            day = dt.date.fromisoformat((elem.text or "").strip()[:10])
            elem.text = day.isoformat() + _offset(dt.datetime.combine(day, dt.time(12), zone))
    return answer


def _offset(moment: dt.datetime) -> str:
    offset = moment.utcoffset() or dt.timedelta(0)
    if not offset:
        return "Z"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def nth(starts: Iterator[dt.datetime], index: int) -> dt.datetime | None:
    """The 1-based ``index``-th of ``starts``, or None past the end."""
    return next(itertools.islice(starts, index - 1, None), None)
