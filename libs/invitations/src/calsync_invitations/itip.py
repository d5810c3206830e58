"""The iCalendar object of an invitation (iTIP, RFC 5546) built with ``icalendar``.

REQUEST (§3.2.2) carries the whole event; CANCEL (§3.2.5) the same UID with STATUS:CANCELLED and
the attendees it cancels for. The UID is the meeting's for its whole life (the provider event
carries the same one), so a calendar updates the event it already has instead of adding one.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from calsync_contracts.events import InvitationMethod, InvitationRequest, Recipient
from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot, MeetingStatus

PRODID = "-//calsync//invitations//EN"


def invitation_ics(request: InvitationRequest, now: datetime) -> bytes:
    meeting = _meeting_of(request)
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("METHOD", request.method.value)  # RFC 5546 §1.4: also in the MIME type
    calendar.add_component(_event(request, meeting, now))
    calendar.add_missing_timezones()  # VTIMEZONE for every TZID used (RFC 5545 §3.6.5)
    ics: bytes = calendar.to_ical()
    return ics


def _event(request: InvitationRequest, meeting: MeetingSnapshot, now: datetime) -> Event:
    event = Event()
    event.add("UID", meeting.ical_uid)
    event.add("DTSTAMP", now)
    event.add("SEQUENCE", request.sequence)
    # Outlook orders updates by its own counter and ignores SEQUENCE without it.
    event.add("X-MICROSOFT-CDO-APPT-SEQUENCE", str(request.sequence))
    event.add("SUMMARY", meeting.subject)
    if meeting.location:
        event.add("LOCATION", meeting.location)
    if meeting.description:
        event.add("DESCRIPTION", meeting.description)
    _add_time(event, meeting)
    if meeting.recurrence_id is not None:
        event.add("RECURRENCE-ID", meeting.recurrence_id)
    if meeting.private:
        event.add("CLASS", "PRIVATE")
    cancelled = request.method is InvitationMethod.CANCEL
    event.add("STATUS", "CANCELLED" if cancelled else _status(meeting.status))
    if request.organizer is not None:
        event.add("ORGANIZER", _organizer(request.organizer, request.sent_by))
    attendees = request.recipients if cancelled else request.attendees or request.recipients
    for attendee in attendees:
        event.add("ATTENDEE", _attendee(attendee, rsvp=not cancelled))
    return event


def _add_time(event: Event, meeting: MeetingSnapshot) -> None:
    time = meeting.time
    if isinstance(time, AllDaySpan):
        event.add("DTSTART", time.start_date)  # VALUE=DATE
        event.add("DTEND", time.end_date)  # exclusive (RFC 5545 §3.6.1)
        event.add("TRANSP", "TRANSPARENT")
        return
    zone = ZoneInfo(time.timezone)
    event.add("DTSTART", time.start.astimezone(zone))
    event.add("DTEND", time.end.astimezone(zone))


def _status(status: MeetingStatus) -> str:
    return {MeetingStatus.TENTATIVE: "TENTATIVE", MeetingStatus.CANCELLED: "CANCELLED"}.get(
        status, "CONFIRMED"
    )


def _organizer(owner: Recipient, sent_by: Recipient | None) -> vCalAddress:
    address = vCalAddress(f"mailto:{owner.email}")
    if owner.name:
        address.params["CN"] = vText(owner.name)
    if sent_by is not None:  # RFC 5545 §3.2.18: acting on the organiser's behalf
        address.params["SENT-BY"] = vText(f"mailto:{sent_by.email}")
    return address


def _attendee(attendee: Recipient, rsvp: bool) -> vCalAddress:
    address = vCalAddress(f"mailto:{attendee.email}")
    if attendee.name:
        address.params["CN"] = vText(attendee.name)
    address.params["CUTYPE"] = "INDIVIDUAL"
    address.params["ROLE"] = "REQ-PARTICIPANT"
    address.params["PARTSTAT"] = "NEEDS-ACTION"
    address.params["RSVP"] = "TRUE" if rsvp else "FALSE"
    return address


def _meeting_of(request: InvitationRequest) -> MeetingSnapshot:
    if request.meeting is None:
        raise ValueError("an invitation request without its meeting cannot be rendered")
    return request.meeting
