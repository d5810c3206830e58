"""A CRM meeting rendered as (or into) an iCalendar resource.

Only the properties we manage are replaced; everything else in an existing resource — alarms,
other clients' X- properties, other occurrences' overrides — is kept (a rewrite must not lose
another program's data). SEQUENCE follows RFC 5546 §2.1.4: it grows when a significant property
(time, location, attendees, summary) changes.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vRecur

from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot, Participant
from sync_caldav.mapping.common import CRM_ID_PROPERTY, PARTSTAT
from sync_core.details import details_block
from sync_core.ports import OutboundEvent

MANAGED = (
    "UID",
    "DTSTAMP",
    "SUMMARY",
    "DESCRIPTION",
    "LOCATION",
    "DTSTART",
    "DTEND",
    "DURATION",
    "CLASS",
    "STATUS",
    "ORGANIZER",
    "ATTENDEE",
    "RRULE",
    "RDATE",
    "EXDATE",
    "RECURRENCE-ID",
    CRM_ID_PROPERTY,
)
SIGNIFICANT = ("DTSTART", "DTEND", "LOCATION", "SUMMARY", "ATTENDEE")
PRODID = "-//calsync//CRM calendar sync//EN"


def resource_name(meeting: MeetingSnapshot) -> str:
    """Client-chosen resource name (RFC 4791 §5.3.2): the same meeting always gets the same
    name, so a retried create cannot make a second copy."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", meeting.ical_uid)[:200] + ".ics"


def render_resource(event: OutboundEvent, existing: bytes | None = None) -> bytes:
    calendar = Calendar.from_ical(existing) if existing else _new_calendar()
    target, found = _target(calendar, event.meeting)
    before = {name: _text(target.get(name)) for name in SIGNIFICANT}
    sequence = int(str(target.get("SEQUENCE", 0)) or 0)
    _fill(target, event)
    changed = any(before[name] != _text(target.get(name)) for name in SIGNIFICANT)
    target.pop("SEQUENCE", None)
    target.add("SEQUENCE", sequence + 1 if found and changed else sequence)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def _new_calendar() -> Calendar:
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    return calendar


def _target(calendar: Calendar, meeting: MeetingSnapshot) -> tuple[Event, bool]:
    """The VEVENT to (re)write — the override for an edited occurrence, else the master — and
    whether it existed already."""
    wanted = _instant(meeting.recurrence_id) if meeting.recurrence_id is not None else None
    for component in calendar.walk("VEVENT"):
        rid = component.get("RECURRENCE-ID")
        own = _instant(rid.dt) if rid is not None else None
        if own == wanted and isinstance(component, Event):
            return component, True
    event = Event()
    calendar.add_component(event)
    return event, False


def _fill(target: Event, event: OutboundEvent) -> None:
    meeting = event.meeting
    for name in MANAGED:
        target.pop(name, None)
    target.add("UID", meeting.ical_uid)
    target.add("DTSTAMP", datetime.now(UTC))
    target.add("SUMMARY", meeting.subject)
    description = meeting.description + details_block(event)
    if description:
        target.add("DESCRIPTION", description)
    if meeting.location:
        target.add("LOCATION", meeting.location)
    _times(target, meeting)
    target.add("CLASS", "PRIVATE" if meeting.private else "PUBLIC")  # RFC 5545 §3.8.1.3
    target.add("STATUS", meeting.status.value.upper())
    _people(target, meeting, event.notifier_sends_invitations)
    if meeting.recurrence is not None and meeting.recurrence_id is None:
        for rule in meeting.recurrence.rrule:
            target.add("RRULE", vRecur.from_ical(rule))
        for value in meeting.recurrence.exdates:
            target.add("EXDATE", _in_zone(value, meeting))
        for value in meeting.recurrence.rdates:
            target.add("RDATE", _in_zone(value, meeting))
    if meeting.recurrence_id is not None:
        target.add("RECURRENCE-ID", _in_zone(meeting.recurrence_id, meeting))
    target.add(CRM_ID_PROPERTY, str(meeting.id))


def _times(target: Event, meeting: MeetingSnapshot) -> None:
    span = meeting.time
    if isinstance(span, AllDaySpan):
        # RFC 5545 §3.6.1: all-day as VALUE=DATE with an exclusive DTEND.
        target.add("DTSTART", span.start_date)
        target.add("DTEND", span.end_date)
        return
    zone = _zone(span.timezone)
    target.add("DTSTART", span.start.astimezone(zone))
    target.add("DTEND", span.end.astimezone(zone))


def _people(target: Event, meeting: MeetingSnapshot, client_scheduling: bool) -> None:
    owner = next(
        (p for p in meeting.participants if p.id == meeting.owner_user_id and p.email), None
    )
    if owner is not None:
        target.add("ORGANIZER", _address(owner, organizer=True, client_scheduling=False))
    for participant in meeting.participants:
        if participant.email:
            target.add("ATTENDEE", _address(participant, False, client_scheduling))


def _address(participant: Participant, organizer: bool, client_scheduling: bool) -> vCalAddress:
    assert participant.email is not None
    address = vCalAddress(f"mailto:{participant.email}")
    if participant.name:
        address.params["CN"] = participant.name
    if not organizer:
        address.params["CUTYPE"] = "INDIVIDUAL"
        address.params["ROLE"] = "REQ-PARTICIPANT"
        address.params["PARTSTAT"] = PARTSTAT[participant.response]
        address.params["RSVP"] = "TRUE"
        if client_scheduling:
            # RFC 6638 §7.1: our notifier mails invitations, the server must not as well.
            address.params["SCHEDULE-AGENT"] = "CLIENT"
    return address


def _in_zone(value: datetime | date, meeting: MeetingSnapshot) -> datetime | date:
    """RECURRENCE-ID / EXDATE / RDATE in the series' form: a date, or a date-time in its zone
    (RFC 5545 §3.8.4.4, §3.8.5.1)."""
    if not isinstance(value, datetime):
        return value
    timezone = getattr(meeting.time, "timezone", "UTC")
    return value.astimezone(_zone(timezone))


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo("UTC" if name == "UTC" else name)


def _instant(value: datetime | date) -> str:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    return value.isoformat()


def _text(value: object) -> object:
    """A comparable form of a property value (a list when the property repeats)."""
    if value is None:
        return None
    if isinstance(value, list):
        return sorted(str(_text(v)) for v in value)
    dt = getattr(value, "dt", None)
    return _instant(dt) if isinstance(dt, date) else str(value)
