"""Cancelling one occurrence of a series held in a CalDAV resource: RFC 5545 §3.8.5.1 EXDATE on
the series plus removal of that occurrence's override (§3.8.4.4), nothing else touched."""

from __future__ import annotations

from datetime import UTC, date, datetime

from icalendar import Calendar, Event

from sync_core.errors import UnreadableItem


def remove_occurrence(data: bytes, instant: str) -> bytes:
    """``instant`` as in ``sync_core.items.occurrence_id``: ``YYYYMMDDTHHMMSSZ`` or ``YYYYMMDD``."""
    try:
        calendar = Calendar.from_ical(data)
    except ValueError as error:
        raise UnreadableItem("the series could not be read") from error
    target = _parse_instant(instant)
    master: Event | None = None
    keep = []
    for component in calendar.subcomponents:
        if isinstance(component, Event) and "RECURRENCE-ID" in component:
            if _same(_value(component, "RECURRENCE-ID"), target):
                continue
        elif isinstance(component, Event):
            master = component
        keep.append(component)
    calendar.subcomponents[:] = keep
    if master is not None:
        master.add("EXDATE", _in_form_of(_value(master, "DTSTART"), target))
    return bytes(calendar.to_ical())


def _value(component: Event, name: str) -> datetime | date:
    value = getattr(component.get(name), "dt", None)
    if not isinstance(value, date):  # datetime is a date too
        raise UnreadableItem(f"{name} is not a date or date-time")
    return value


def _parse_instant(instant: str) -> datetime | date:
    if "T" in instant:
        return datetime.strptime(instant, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.strptime(instant, "%Y%m%d").date()


def _same(value: datetime | date, target: datetime | date) -> bool:
    if isinstance(value, datetime) and isinstance(target, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC) == target
    return not isinstance(value, datetime) and value == target


def _in_form_of(start: datetime | date, target: datetime | date) -> datetime | date:
    """EXDATE must have DTSTART's value type and zone (RFC 5545 §3.8.5.1)."""
    if isinstance(start, datetime) and isinstance(target, datetime):
        return target.astimezone(start.tzinfo) if start.tzinfo else target.replace(tzinfo=None)
    return target.date() if isinstance(target, datetime) else target
