"""CRM meetings as Google Calendar events (API v3 ``events`` resource) and back. Pure: no I/O.

Ids: we choose an event's id (``events.insert`` accepts base32hex ids of 5 to 1024 characters),
so a retried insert is refused as a duplicate instead of making a second event. A meeting's id
in hex is base32hex already. An instance of a recurring event is ``<series id>_<original
start>`` at Google and ``<series id>#<original start>`` in the engine's vocabulary
(``sync_core.items.occurrence_id``); the stamps are the same, only the separator differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import available_timezones

from dateutil.rrule import rrulestr
from icalendar import Event as IcsEvent

from calsync_contracts.events import ProviderEventFields
from calsync_contracts.meeting import (
    AllDaySpan,
    MeetingSnapshot,
    MeetingStatus,
    MeetingTime,
    Participant,
    ParticipantKind,
    Recurrence,
    ResponseStatus,
    TimedSpan,
)
from sync_core.details import details_block, without_details
from sync_core.errors import UnreadableItem, reading
from sync_core.items import OCCURRENCE_SEPARATOR
from sync_core.ports import OutboundEvent

GoogleEvent = dict[str, Any]

CRM_ID_PROPERTY = "crmMeetingId"
"""Our meeting id in ``extendedProperties.private`` (visible to this app only)."""
INSTANCE_SEPARATOR = "_"
_ZONES = frozenset(available_timezones())
RESPONSE = {
    "needsAction": ResponseStatus.NEEDS_ACTION,
    "accepted": ResponseStatus.ACCEPTED,
    "declined": ResponseStatus.DECLINED,
    "tentative": ResponseStatus.TENTATIVE,
}
RESPONSE_NAME = {value: key for key, value in RESPONSE.items()}


# --- ids --------------------------------------------------------------------------------------


def event_id_for(meeting: MeetingSnapshot) -> str:
    return meeting.id.hex


def google_id(external_id: str) -> str:
    return external_id.replace(OCCURRENCE_SEPARATOR, INSTANCE_SEPARATOR, 1)


def external_id_of(event: GoogleEvent) -> str:
    """The engine's id of an event: an instance's ``recurringEventId#stamp``."""
    series = event.get("recurringEventId")
    if not series:
        return str(event["id"])
    stamp = str(event["id"]).rsplit(INSTANCE_SEPARATOR, 1)[-1]
    return f"{series}{OCCURRENCE_SEPARATOR}{stamp}"


# --- CRM → Google -------------------------------------------------------------------------------


def render(event: OutboundEvent) -> GoogleEvent:
    """The event body for ``events.insert`` / ``events.update``. Never both ``date`` and
    ``dateTime`` in a start or end (sync-lessons, Google's reference)."""
    meeting = event.meeting
    body: GoogleEvent = {
        "iCalUID": meeting.ical_uid,
        "summary": meeting.subject,
        "location": meeting.location,
        "description": meeting.description + details_block(event),
        **_times(meeting.time),
        "visibility": "private" if meeting.private else "default",
        "status": meeting.status.value,
        "attendees": [
            {
                "email": p.email,
                **({"displayName": p.name} if p.name else {}),
                "responseStatus": RESPONSE_NAME[p.response],
            }
            for p in meeting.participants
            if p.email
        ],
        "extendedProperties": {"private": {CRM_ID_PROPERTY: str(meeting.id)}},
    }
    if meeting.recurrence is not None and meeting.recurrence_id is None:
        body["recurrence"] = _recurrence_lines(meeting.recurrence)
    return body


def send_updates(event: OutboundEvent) -> str:
    """``sendUpdates``: Google mails guests only when our notifier does not (never both,
    Cal.com #7735)."""
    return "none" if event.notifier_sends_invitations else "all"


def _times(time: MeetingTime) -> GoogleEvent:
    """The other kind's fields are sent as null: ``events.patch`` merges ``start`` and ``end``,
    and an event switching between timed and all-day would otherwise carry both (a 400)."""
    if isinstance(time, AllDaySpan):  # all-day: ``date`` with an exclusive end, like DTEND
        return {
            "start": {"date": time.start_date.isoformat(), "dateTime": None, "timeZone": None},
            "end": {"date": time.end_date.isoformat(), "dateTime": None, "timeZone": None},
        }
    return {
        "start": {"dateTime": time.start.isoformat(), "timeZone": time.timezone, "date": None},
        "end": {"dateTime": time.end.isoformat(), "timeZone": time.timezone, "date": None},
    }


def merged_attendees(ours: list[GoogleEvent], theirs: list[GoogleEvent]) -> list[GoogleEvent]:
    """Our attendee list written over Google's: Google keeps each guest's answer (they give it
    there, the CRM's copy may be older) and the rooms booked there (resources, which the CRM
    does not show)."""
    known = {str(a.get("email", "")).lower(): a for a in theirs}
    merged = []
    for attendee in ours:
        existing = known.get(str(attendee["email"]).lower())
        merged.append({**attendee, **existing} if existing else attendee)
    return merged + [a for a in theirs if a.get("resource")]


def _recurrence_lines(recurrence: Recurrence) -> list[str]:
    """RFC 5545 lines as Google's ``recurrence`` field takes them; instants in UTC."""
    lines = [f"RRULE:{rule}" for rule in recurrence.rrule]
    for name, values in (("EXDATE", recurrence.exdates), ("RDATE", recurrence.rdates)):
        lines += [f"{name}{_ics_value(value)}" for value in values]
    return lines


def _ics_value(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return ":" + value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return ";VALUE=DATE:" + value.strftime("%Y%m%d")


# --- Google → CRM -------------------------------------------------------------------------------


def crm_id_of(event: GoogleEvent) -> UUID | None:
    value = (event.get("extendedProperties") or {}).get("private", {}).get(CRM_ID_PROPERTY)
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


def parse(
    event: GoogleEvent, cancelled_instances: Sequence[GoogleEvent] = ()
) -> ProviderEventFields:
    """An event read into the CRM's vocabulary. Cancelled instances of a series are its
    excluded dates (Google keeps them as events of their own, CalDAV as EXDATE). Anything
    unreadable raises ``UnreadableItem``, never another exception."""
    with reading("the event"):
        return _parse(event, list(cancelled_instances))


def _parse(event: GoogleEvent, cancelled: list[GoogleEvent]) -> ProviderEventFields:
    time = _time(event)
    original = event.get("originalStartTime")
    return ProviderEventFields(
        subject=str(event.get("summary", "")),
        location=str(event.get("location", "")),
        description=without_details(str(event.get("description", ""))),
        time=time,
        private=event.get("visibility") in ("private", "confidential"),
        status=_status(event),
        organizer_email=((event.get("organizer") or {}).get("email") or "").lower() or None,
        attendees=[_attendee(a) for a in event.get("attendees", []) if not a.get("resource")],
        recurrence=_recurrence(event, time, cancelled),
        recurrence_id=_edge_value(original) if original else None,
        updated_at=_instant(event["updated"]) if event.get("updated") else None,
    )


def _time(event: GoogleEvent) -> MeetingTime:
    start, end = event.get("start") or {}, event.get("end") or {}
    if start.get("date"):
        first = date.fromisoformat(start["date"])
        last = date.fromisoformat(end["date"]) if end.get("date") else first + timedelta(days=1)
        return AllDaySpan(start_date=first, end_date=max(last, first + timedelta(days=1)))
    if not start.get("dateTime") or not end.get("dateTime"):
        raise UnreadableItem("the event has no start or end time")
    zone = start.get("timeZone") if start.get("timeZone") in _ZONES else "UTC"
    begins, ends = _instant(start["dateTime"]), _instant(end["dateTime"])
    if ends < begins:
        raise UnreadableItem("the event ends before it starts")
    return TimedSpan(start=begins, end=max(ends, begins + timedelta(minutes=1)), timezone=zone)


def _edge_value(edge: dict[str, str]) -> datetime | date:
    return date.fromisoformat(edge["date"]) if edge.get("date") else _instant(edge["dateTime"])


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _status(event: GoogleEvent) -> MeetingStatus:
    value = str(event.get("status", "confirmed"))
    known = MeetingStatus._value2member_map_
    return MeetingStatus(value) if value in known else MeetingStatus.CONFIRMED


def _attendee(attendee: dict[str, Any]) -> Participant:
    return Participant(
        kind=ParticipantKind.EXTERNAL,
        email=str(attendee.get("email", "")).lower() or None,
        name=str(attendee.get("displayName", "")),
        response=RESPONSE.get(str(attendee.get("responseStatus")), ResponseStatus.NEEDS_ACTION),
    )


def _recurrence(
    event: GoogleEvent, time: MeetingTime, cancelled: list[GoogleEvent]
) -> Recurrence | None:
    lines = [str(line) for line in event.get("recurrence") or []]
    if not lines:
        return None
    parsed = _ics_lines(lines)
    rules = [r.to_ical().decode() for r in _many(parsed.get("RRULE"))]
    for rule in rules:
        if not _rule_reads(rule, _first_start(time)):
            raise UnreadableItem(f"the repeat rule could not be read: {rule[:60]}")
    rdates = [_aware(d.dt) for value in _many(parsed.get("RDATE")) for d in value.dts]
    exdates = [_aware(d.dt) for value in _many(parsed.get("EXDATE")) for d in value.dts]
    exdates += [
        _edge_value(c["originalStartTime"]) for c in cancelled if c.get("originalStartTime")
    ]
    if not rules and not rdates:
        return None
    return Recurrence(rrule=rules, rdates=rdates, exdates=sorted(set(exdates), key=_sort_key))


def _rule_reads(rule: str, first: datetime) -> bool:
    """Google accepts an UNTIL of the other kind than the start (a date-time UNTIL on an
    all-day series, a date on a timed one), which dateutil refuses with an aware start."""
    other = first.replace(tzinfo=None) if first.tzinfo else first.replace(tzinfo=UTC)
    for start in (first, other):
        try:
            rrulestr(rule, dtstart=start)
            return True
        except (ValueError, TypeError):
            continue
    return False


def _first_start(time: MeetingTime) -> datetime:
    if isinstance(time, TimedSpan):
        return time.start
    return datetime.combine(time.start_date, datetime.min.time())


def _ics_lines(lines: list[str]) -> IcsEvent:
    """Google's ``recurrence`` holds RFC 5545 content lines: icalendar reads them."""
    try:
        text = "BEGIN:VEVENT\r\n" + "\r\n".join(lines) + "\r\nEND:VEVENT\r\n"
        parsed = IcsEvent.from_ical(text)
    except ValueError as error:
        raise UnreadableItem("the repeat rule could not be read") from error
    assert isinstance(parsed, IcsEvent)
    return parsed


def _many(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _aware(value: date | datetime) -> date | datetime:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _sort_key(value: date | datetime) -> str:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value.isoformat()
