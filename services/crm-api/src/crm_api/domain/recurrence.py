"""Expanding a provider's series into occurrences (RFC 5545 §3.8.5) with ``icalendar`` +
``recurring_ical_events``, which handle RRULE, RDATE, EXDATE, time zones and DST."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar, Event, vRecur

from calsync_contracts.meeting import AllDaySpan, MeetingTime, Recurrence

MAX_OCCURRENCES = 1000


@dataclass(frozen=True, slots=True)
class Occurrence:
    start: datetime | date
    end: datetime | date
    recurrence_id: datetime | date


def _zoned(value: datetime | date, zone: ZoneInfo) -> datetime | date:
    return value.astimezone(zone) if isinstance(value, datetime) else value


def occurrences(
    span: MeetingTime, recurrence: Recurrence, window_start: datetime, window_end: datetime
) -> list[Occurrence]:
    event = Event()
    event.add("uid", "series")
    if isinstance(span, AllDaySpan):
        event.add("dtstart", span.start_date)
        event.add("dtend", span.end_date)
        zone = ZoneInfo("UTC")
    else:
        zone = ZoneInfo(span.timezone)  # DST follows the zone the series was planned in
        event.add("dtstart", span.start.astimezone(zone))
        event.add("dtend", span.end.astimezone(zone))
    for rule in recurrence.rrule:
        event.add("rrule", vRecur.from_ical(rule))
    for value in recurrence.exdates:
        event.add("exdate", _zoned(value, zone))
    for value in recurrence.rdates:
        event.add("rdate", _zoned(value, zone))
    calendar = Calendar()
    calendar.add_component(event)
    found: list[Occurrence] = []
    for component in recurring_ical_events.of(calendar).between(window_start, window_end):
        found.append(
            Occurrence(
                start=component["DTSTART"].dt,
                end=component["DTEND"].dt,
                recurrence_id=component["RECURRENCE-ID"].dt,
            )
        )
        if len(found) >= MAX_OCCURRENCES:
            break
    return found


def instant_key(value: datetime | date | str | Any) -> str:
    """Comparable key of a RECURRENCE-ID: the UTC instant, or the date for all-day series."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def day_bounds(day_start: date, day_end: date, zone: str) -> tuple[datetime, datetime]:
    """An all-day span as instants in a user's zone (for free/busy)."""
    tz = ZoneInfo(zone)
    return (
        datetime.combine(day_start, time.min, tzinfo=tz),
        datetime.combine(day_end, time.min, tzinfo=tz),
    )


__all__ = ["Occurrence", "day_bounds", "instant_key", "occurrences"]
