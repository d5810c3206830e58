"""An iCalendar resource read into provider-neutral fields. Anything that cannot be understood
raises ``UnreadableItem`` with a short message; no other exception escapes for bad input, so one
bad resource can never stop a calendar's sync (Odoo #109358)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import available_timezones

from dateutil.rrule import rrulestr
from icalendar import Calendar, Event
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from calsync_contracts.events import ProviderEventFields
from calsync_contracts.meeting import (
    AllDaySpan,
    MeetingStatus,
    MeetingTime,
    Participant,
    ParticipantKind,
    Recurrence,
    ResponseStatus,
    TimedSpan,
)
from sync_caldav.mapping.common import CRM_ID_PROPERTY, RESPONSE
from sync_core.details import without_details
from sync_core.errors import UnreadableItem, reading

_ZONES = frozenset(available_timezones())
ZERO_LENGTH = timedelta(minutes=1)
"""A date-time DTSTART without DTEND/DURATION ends when it starts (RFC 5545 §3.6.1); the CRM
needs end > start, so such an instant becomes one minute long (and is written back so)."""


@dataclass(frozen=True, slots=True)
class ParsedResource:
    ical_uid: str
    crm_meeting_id: UUID | None
    master: ProviderEventFields | None
    overrides: list[ProviderEventFields]


def parse_resource(data: bytes) -> ParsedResource:
    with reading("the event"):
        return _parse(data)


def _parse(data: bytes) -> ParsedResource:
    calendar = Calendar.from_ical(data)
    events = [c for c in calendar.walk("VEVENT") if isinstance(c, Event)]
    if not events:
        raise UnreadableItem("not an event (no VEVENT)")
    uids = {str(e.get("UID", "")) for e in events}
    if len(uids) != 1 or "" in uids:
        raise UnreadableItem("a resource must hold one UID (RFC 4791 §4.1)")
    master = next((e for e in events if "RECURRENCE-ID" not in e), None)
    overrides = [e for e in events if "RECURRENCE-ID" in e]
    crm_id = _crm_id(master or overrides[0])
    return ParsedResource(
        ical_uid=uids.pop(),
        crm_meeting_id=crm_id,
        master=_fields(master) if master is not None else None,
        overrides=[_fields(o) for o in overrides],
    )


def _fields(event: Event) -> ProviderEventFields:
    time = _time(event)
    return ProviderEventFields(
        subject=str(event.get("SUMMARY", "")),
        location=str(event.get("LOCATION", "")),
        description=without_details(str(event.get("DESCRIPTION", ""))),
        time=time,
        private=str(event.get("CLASS", "PUBLIC")).upper() in ("PRIVATE", "CONFIDENTIAL"),
        status=_status(event),
        organizer_email=_email(event.get("ORGANIZER")),
        attendees=[_attendee(a) for a in _many(event.get("ATTENDEE"))],
        recurrence=_recurrence(event, time),
        recurrence_id=_aware(_dt(event.get("RECURRENCE-ID"))) if "RECURRENCE-ID" in event else None,
        updated_at=_updated(event),
    )


def _time(event: Event) -> MeetingTime:
    if "DTSTART" not in event:
        raise UnreadableItem("the event has no start (DTSTART)")
    start = event.start
    end = event.end
    if not isinstance(start, datetime):
        # RFC 5545 §3.6.1: all-day, DTEND exclusive; without DTEND it lasts one day.
        last = end if isinstance(end, date) and not isinstance(end, datetime) else start
        return AllDaySpan(start_date=start, end_date=max(last, start + timedelta(days=1)))
    zone = _zone_name(event, start)
    start_at, end_at = _aware(start), _aware(end if isinstance(end, datetime) else start)
    if end_at < start_at:
        raise UnreadableItem("the event ends before it starts")
    return TimedSpan(start=start_at, end=max(end_at, start_at + ZERO_LENGTH), timezone=zone)


def _zone_name(event: Event, start: datetime) -> str:
    """IANA name of the event's zone: the tzinfo's key, a Windows name mapped (Outlook writes
    those), else UTC (times are converted, so nothing shifts)."""
    key = getattr(start.tzinfo, "key", None)
    if isinstance(key, str) and key in _ZONES:
        return key
    tzid = str(event["DTSTART"].params.get("TZID", ""))
    if tzid in _ZONES:
        return tzid
    return WINDOWS_TO_OLSON.get(tzid, "UTC") if WINDOWS_TO_OLSON.get(tzid) in _ZONES else "UTC"


def _dt(value: Any) -> date:
    found = getattr(value, "dt", None)
    if not isinstance(found, date):  # a datetime is a date too
        raise UnreadableItem("a date property holds no date")
    return found


def _aware(value: date | datetime) -> datetime | Any:
    """Floating times (no zone, RFC 5545 §3.3.5 form 1) are read as UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return value


def _status(event: Event) -> MeetingStatus:
    value = str(event.get("STATUS", "CONFIRMED")).lower()
    return (
        MeetingStatus(value)
        if value in MeetingStatus._value2member_map_
        else MeetingStatus.CONFIRMED
    )


def _many(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _email(address: Any) -> str | None:
    if address is None:
        return None
    text = str(address)
    return text[7:].lower() if text.lower().startswith("mailto:") else text.lower() or None


def _attendee(address: Any) -> Participant:
    params = getattr(address, "params", {})
    return Participant(
        kind=ParticipantKind.EXTERNAL,
        email=_email(address),
        name=str(params.get("CN", "")),
        response=RESPONSE.get(
            str(params.get("PARTSTAT", "NEEDS-ACTION")).upper(), ResponseStatus.NEEDS_ACTION
        ),
    )


def _recurrence(event: Event, time: MeetingTime) -> Recurrence | None:
    rules = [r.to_ical().decode() for r in _many(event.get("RRULE"))]
    rdates = [_aware(d.dt) for value in _many(event.get("RDATE")) for d in value.dts]
    exdates = [_aware(d.dt) for value in _many(event.get("EXDATE")) for d in value.dts]
    if not rules and not rdates:
        return None
    start = (
        time.start
        if isinstance(time, TimedSpan)
        else datetime.combine(time.start_date, datetime.min.time())
    )
    for rule in rules:
        try:
            rrulestr(rule, dtstart=start)
        except (ValueError, TypeError) as error:
            raise UnreadableItem(f"the repeat rule could not be read: {rule[:60]}") from error
    return Recurrence(rrule=rules, rdates=rdates, exdates=exdates)


def _updated(event: Event) -> datetime | None:
    for name in ("LAST-MODIFIED", "DTSTAMP"):
        value = event.get(name)
        if value is not None and isinstance(value.dt, datetime):
            aware: datetime = _aware(value.dt)
            return aware
    return None


def _crm_id(event: Event) -> UUID | None:
    value = event.get(CRM_ID_PROPERTY)
    try:
        return UUID(str(value)) if value is not None else None
    except ValueError:
        return None
