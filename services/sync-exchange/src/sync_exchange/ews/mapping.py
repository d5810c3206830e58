"""CRM meetings as EWS calendar items (exchangelib ``CalendarItem`` field values) and back. Pure:
exchangelib's value types hold data only; nothing here talks to a server.

- Times go out in the meeting's zone (``StartTimeZone``/``EndTimeZone`` follow from it) and come
  back in UTC with the item's start zone, which Exchange names by Windows id and exchangelib maps
  to IANA.
- All-day: ``IsAllDayEvent`` with midnight-to-midnight times. exchangelib takes and gives dates
  with an inclusive last day ("How to: Create all-day events by using EWS"); the CRM's end date
  is exclusive (RFC 5545 §3.6.1), hence the day added and taken away here.
- Our meeting id rides in the same named extended property the Graph adapter writes (one
  mailbox reached either way recognises our items), and the CRM's iCalendar UID in ``UID``.
- Descriptions are read from ``TextBody`` (Exchange's plain-text rendering of an HTML body).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from exchangelib import Attendee, Body, CalendarItem, EWSDate, EWSDateTime, EWSTimeZone
from exchangelib import Mailbox as EwsAddress
from exchangelib.errors import UnknownTimeZone
from exchangelib.extended_properties import ExtendedProperty

from calsync_contracts.events import ProviderEventFields
from calsync_contracts.meeting import (
    AllDaySpan,
    MeetingStatus,
    MeetingTime,
    Participant,
    ParticipantKind,
    ResponseStatus,
    TimedSpan,
)
from sync_core.details import details_block, without_details
from sync_core.errors import UnreadableItem, reading
from sync_core.ports import OutboundEvent
from sync_exchange.ews.recurrence import recurrence_of

RESPONSE = {
    "Unknown": ResponseStatus.NEEDS_ACTION,
    "NoResponseReceived": ResponseStatus.NEEDS_ACTION,
    "Organizer": ResponseStatus.ACCEPTED,
    "Accept": ResponseStatus.ACCEPTED,
    "Tentative": ResponseStatus.TENTATIVE,
    "Decline": ResponseStatus.DECLINED,
}
WRITTEN = ("subject", "body", "location", "sensitivity", "time", "attendees")
"""What the CRM writes; everything else on an item (rooms, reminders, categories) is the user's."""


class CrmMeetingId(ExtendedProperty):  # type: ignore[misc]
    """``String {5b3f0a47-…} Name crmMeetingId``: the Graph adapter's property, seen by EWS."""

    property_set_id = "5b3f0a47-8c1e-4d2a-9f6b-0c7d1e2a3b4c"
    property_name = "crmMeetingId"
    property_type = "String"


class CrmTimeZone(ExtendedProperty):  # type: ignore[misc]
    """The meeting's IANA zone: Exchange keeps Windows zone ids only, several IANA zones share
    one (Copenhagen and Paris are both "Romance Standard Time"), and the CRM shows its own."""

    property_set_id = CrmMeetingId.property_set_id
    property_name = "crmTimeZone"
    property_type = "String"


def register_crm_properties() -> None:
    """exchangelib adds extended properties to the item class itself: once per process."""
    known = {f.name for f in CalendarItem.FIELDS}
    for name, property_class in (("crm_meeting_id", CrmMeetingId), ("crm_time_zone", CrmTimeZone)):
        if name not in known:
            CalendarItem.register(name, property_class)


register_crm_properties()


# --- CRM → EWS ------------------------------------------------------------------------------------


def render(event: OutboundEvent) -> dict[str, Any]:
    """``CalendarItem`` field values for the meeting (without ids, UID or our property)."""
    meeting = event.meeting
    return {
        "subject": meeting.subject,
        "body": Body(meeting.description + details_block(event)),
        "location": meeting.location,
        "sensitivity": "Private" if meeting.private else "Normal",
        **_times(meeting.time, event.all_day_zone),
        "required_attendees": [
            Attendee(
                mailbox=EwsAddress(email_address=p.email, name=p.name or p.email),
                response_type="Unknown",
            )
            for p in meeting.participants
            if p.email
        ],
    }


def _times(time: MeetingTime, all_day_zone: str) -> dict[str, Any]:
    if isinstance(time, AllDaySpan):
        # Midnight to midnight in the user's zone: in another, Outlook shows the days shifted
        # or as a timed event across two days.
        zone = _ews_zone(all_day_zone)
        last_day = time.end_date - timedelta(days=1)
        return {
            "is_all_day": True,
            "start": EWSDate.from_date(time.start_date),
            "end": EWSDate.from_date(max(last_day, time.start_date)),
            "_start_timezone": zone,
            "_end_timezone": zone,
            "crm_time_zone": None,
        }
    zone = _ews_zone(time.timezone)
    return {
        "is_all_day": False,
        "start": _ews_instant(time.start, zone),
        "end": _ews_instant(time.end, zone),
        "crm_time_zone": time.timezone,
    }


def _ews_instant(value: datetime, zone: EWSTimeZone) -> EWSDateTime:
    """exchangelib takes standard zones only (not pydantic's parsed offsets): via UTC."""
    utc = datetime.fromtimestamp(value.timestamp(), tz=ZoneInfo("UTC"))
    return EWSDateTime.from_datetime(utc).astimezone(zone)


def _ews_zone(name: str) -> EWSTimeZone:
    """The zone by IANA name, or UTC for one Exchange has no Windows id for."""
    try:
        return EWSTimeZone(name)
    except UnknownTimeZone:
        return EWSTimeZone("UTC")


def changed_fields(ours: dict[str, Any], item: CalendarItem) -> dict[str, Any]:
    """The field values of ``ours`` (a ``render``) that differ from ``item`` as it is. Writing
    the time or the attendees makes Exchange send updates and reset answers, so an unchanged one
    is never written; attendees Exchange knows keep their answers, optional ones stay optional,
    and rooms (``Resources``) are never touched."""
    changed: dict[str, Any] = {}
    for name in ("subject", "location", "sensitivity", "crm_time_zone"):
        if (ours[name] or "") != (getattr(item, name) or ""):
            changed[name] = ours[name]
    if str(ours["body"]).strip() != _description(item).strip():
        changed["body"] = ours["body"]
    if _when(ours["is_all_day"], ours["start"], ours["end"]) != _item_when(item):
        changed |= {key: ours[key] for key in ("is_all_day", "start", "end")}
    if not ours["is_all_day"] and _zone_id(ours["start"].tzinfo) != _zone_id(
        getattr(item, "_start_timezone", None)
    ):
        # Exchange's Windows zone follows the meeting's, else the next read brings the old zone
        # back (``zone_name``: Outlook's zone wins) and the CRM's edit is lost. The zones alone:
        # the same instants are not rewritten (nobody is mailed for nothing).
        changed |= {"_start_timezone": ours["start"].tzinfo, "_end_timezone": ours["end"].tzinfo}
    wanted = {_email(a) for a in ours["required_attendees"]}
    required, optional = item.required_attendees or [], item.optional_attendees or []
    if wanted != {_email(a) for a in required + optional}:
        known = {_email(a): a for a in required}
        changed["required_attendees"] = [
            known.get(_email(a), a)
            for a in ours["required_attendees"]
            if _email(a) not in {_email(o) for o in optional}
        ]
        changed["optional_attendees"] = [a for a in optional if _email(a) in wanted]
    return changed


def _zone_id(zone: Any) -> str | None:
    """A zone's Windows id (several IANA zones share one: those differ in ``crm_time_zone``)."""
    return getattr(zone, "ms_id", None)


def _when(all_day: bool, start: Any, end: Any) -> tuple[bool, Any, Any]:
    if all_day:
        return True, date.fromordinal(start.toordinal()), date.fromordinal(end.toordinal())
    return False, start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def _item_when(item: CalendarItem) -> tuple[bool, Any, Any]:
    if item.start is None or item.end is None:
        return False, None, None
    return _when(bool(item.is_all_day), item.start, item.end)


def _email(attendee: Attendee) -> str:
    return str(attendee.mailbox.email_address or "").lower() if attendee.mailbox else ""


# --- EWS → CRM ------------------------------------------------------------------------------------


def crm_id_of(item: CalendarItem) -> UUID | None:
    value = getattr(item, "crm_meeting_id", None)
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


def parse(item: CalendarItem) -> ProviderEventFields:
    """An item read into the CRM's vocabulary; anything unreadable raises ``UnreadableItem``,
    never another exception (one bad item never stops a calendar's sync)."""
    with reading("the item"):
        return _parse(item)


def _parse(item: CalendarItem) -> ProviderEventFields:
    organizer = item.organizer.email_address if item.organizer else None
    attendees = (item.required_attendees or []) + (item.optional_attendees or [])
    zone = zone_name(item)
    return ProviderEventFields(
        recurrence=recurrence_of(item, zone) if item.type == "RecurringMaster" else None,
        recurrence_id=original_start(item, zone),
        subject=str(item.subject or ""),
        location=str(item.location or ""),
        description=without_details(_description(item)),
        time=_time(item),
        private=item.sensitivity in ("Private", "Confidential"),
        status=MeetingStatus.CANCELLED if item.is_cancelled else MeetingStatus.CONFIRMED,
        organizer_email=str(organizer).lower() if organizer else None,
        attendees=[_attendee(a) for a in attendees if a.mailbox],
        updated_at=_plain(item.last_modified_time) if item.last_modified_time else None,
    )


def _time(item: CalendarItem) -> MeetingTime:
    if item.start is None or item.end is None:
        raise UnreadableItem("the item has no start or end time")
    if item.is_all_day:
        first, last = _day(item.start), _day(item.end)
        return AllDaySpan(start_date=first, end_date=max(last, first) + timedelta(days=1))
    begins, ends = _plain(item.start), _plain(item.end)
    if ends < begins:
        raise UnreadableItem("the item ends before it starts")
    return TimedSpan(
        start=begins, end=max(ends, begins + timedelta(minutes=1)), timezone=zone_name(item)
    )


def original_start(item: CalendarItem, zone: str) -> datetime | date | None:
    """An occurrence's or exception's start before any edit (its RECURRENCE-ID; a date for an
    all-day series, in the series' zone); None for a single item or a master."""
    if item.type not in ("Occurrence", "Exception") or item.original_start is None:
        return None
    instant = _plain(item.original_start)
    return instant.astimezone(ZoneInfo(zone)).date() if item.is_all_day else instant


def zone_name(item: CalendarItem) -> str:
    """The IANA zone we wrote while the item's Windows zone is still the one it maps to (not
    moved to another zone in Outlook); else the IANA zone exchangelib maps the Windows id to."""
    zone = getattr(item, "_start_timezone", None)
    ours = getattr(item, "crm_time_zone", None)
    if ours and zone is not None and _ews_zone(str(ours)).ms_id == getattr(zone, "ms_id", None):
        return str(ours)
    return str(getattr(zone, "key", None) or "UTC")


def _plain(value: datetime) -> datetime:
    """A standard-library UTC datetime (exchangelib's are subclasses with its own zones)."""
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else date.fromordinal(value.toordinal())


def _description(item: CalendarItem) -> str:
    text = getattr(item, "text_body", None)
    return str(text if text is not None else (item.body or ""))


def _attendee(attendee: Attendee) -> Participant:
    address, name = attendee.mailbox.email_address, attendee.mailbox.name or ""
    return Participant(
        kind=ParticipantKind.EXTERNAL,
        email=str(address).lower() if address else None,
        name="" if name == address else str(name),
        response=RESPONSE.get(str(attendee.response_type), ResponseStatus.NEEDS_ACTION),
    )
