"""CRM meetings as Microsoft Graph events (v1.0 ``event`` resource) and back. Pure: no I/O.

- Times go out as a local ``dateTime`` with the meeting's IANA ``timeZone`` (Graph accepts IANA
  and Windows names) and come back in UTC; ``originalStartTimeZone`` says the zone the event was
  made in (Outlook writes Windows names: mapped to IANA as the CalDAV adapter does).
- All-day: ``isAllDay`` with midnight-to-midnight times in the user's zone.
- Our meeting id rides in a single-value extended property (``String {GUID} Name …``, visible to
  apps only) and in ``transactionId``, which makes a retried create answer the first event.
- Graph's ``iCalUId`` is the server's own: an event we create has a UID other than the CRM
  meeting's; the link by event id ties them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, available_timezones

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

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

GraphEvent = dict[str, Any]

CRM_PROPERTY_ID = "String {5b3f0a47-8c1e-4d2a-9f6b-0c7d1e2a3b4c} Name crmMeetingId"
WIRE = "%Y-%m-%dT%H:%M:%S"
_ZONES = frozenset(available_timezones())
RESPONSE = {
    "none": ResponseStatus.NEEDS_ACTION,
    "notResponded": ResponseStatus.NEEDS_ACTION,
    "accepted": ResponseStatus.ACCEPTED,
    "organizer": ResponseStatus.ACCEPTED,
    "declined": ResponseStatus.DECLINED,
    "tentativelyAccepted": ResponseStatus.TENTATIVE,
}


def render(event: OutboundEvent, *, create: bool = False) -> GraphEvent:
    """The body for ``POST …/events`` (``create``) or ``PATCH /me/events/{id}``. Attendees
    are written with the time: Exchange, not our notifier, mails them (Graph cannot add an
    attendee silently), so an Exchange connection's invitations are always the provider's."""
    meeting = event.meeting
    body: GraphEvent = {
        "subject": meeting.subject,
        "body": {"contentType": "text", "content": meeting.description + details_block(event)},
        **_times(meeting.time, event.all_day_zone),
        "location": {"displayName": meeting.location},
        "attendees": [
            {
                "emailAddress": {"address": p.email, "name": p.name or p.email},
                "type": "required",
            }
            for p in meeting.participants
            if p.email
        ],
        "sensitivity": "private" if meeting.private else "normal",
    }
    if create:
        body["transactionId"] = str(meeting.id)
        body["singleValueExtendedProperties"] = [{"id": CRM_PROPERTY_ID, "value": str(meeting.id)}]
    return body


def _times(time: MeetingTime, all_day_zone: str) -> GraphEvent:
    if isinstance(time, AllDaySpan):
        # Midnight to midnight in the user's zone (Outlook shows a UTC one shifted elsewhere).
        name = all_day_zone if all_day_zone in _ZONES else "UTC"
        return {
            "isAllDay": True,
            "start": {"dateTime": f"{time.start_date.isoformat()}T00:00:00", "timeZone": name},
            "end": {"dateTime": f"{time.end_date.isoformat()}T00:00:00", "timeZone": name},
        }
    zone = ZoneInfo(time.timezone)
    return {
        "isAllDay": False,
        "start": {
            "dateTime": time.start.astimezone(zone).strftime(WIRE),
            "timeZone": time.timezone,
        },
        "end": {"dateTime": time.end.astimezone(zone).strftime(WIRE), "timeZone": time.timezone},
    }


# --- Graph → CRM ----------------------------------------------------------------------------------


def crm_id_of(event: GraphEvent) -> UUID | None:
    for prop in event.get("singleValueExtendedProperties") or []:
        if prop.get("id", "").lower() == CRM_PROPERTY_ID.lower():
            try:
                return UUID(str(prop.get("value")))
            except ValueError:
                return None
    return None


def parse(event: GraphEvent) -> ProviderEventFields:
    """An event read into the CRM's vocabulary; anything unreadable raises ``UnreadableItem``,
    never another exception (one bad event never stops a calendar's sync)."""
    with reading("the event"):
        return _parse(event)


def _parse(event: GraphEvent) -> ProviderEventFields:
    organizer = ((event.get("organizer") or {}).get("emailAddress") or {}).get("address")
    return ProviderEventFields(
        subject=str(event.get("subject") or ""),
        location=str((event.get("location") or {}).get("displayName") or ""),
        description=without_details(_text(event.get("body") or {})),
        time=_time(event),
        private=event.get("sensitivity") in ("private", "confidential"),
        status=_status(event),
        organizer_email=str(organizer).lower() if organizer else None,
        attendees=[
            _attendee(a) for a in event.get("attendees") or [] if a.get("type") != "resource"
        ],
        updated_at=_utc(event["lastModifiedDateTime"])
        if event.get("lastModifiedDateTime")
        else None,
    )


def _time(event: GraphEvent) -> MeetingTime:
    start, end = event.get("start") or {}, event.get("end") or {}
    if not start.get("dateTime") or not end.get("dateTime"):
        raise UnreadableItem("the event has no start or end time")
    begins, ends = _in_zone(start), _in_zone(end)
    if ends < begins:
        raise UnreadableItem("the event ends before it starts")
    zone = _iana(str(event.get("originalStartTimeZone") or start.get("timeZone") or "UTC"))
    if event.get("isAllDay"):
        # Midnight to midnight in the event's own zone: Graph answers in UTC, where a Berlin
        # all-day event starts the evening before.
        local = ZoneInfo(zone)
        first, last = begins.astimezone(local).date(), ends.astimezone(local).date()
        return AllDaySpan(start_date=first, end_date=max(last, first + timedelta(days=1)))
    return TimedSpan(start=begins, end=max(ends, begins + timedelta(minutes=1)), timezone=zone)


def _in_zone(edge: dict[str, str]) -> datetime:
    local = datetime.fromisoformat(str(edge["dateTime"])[:19])
    return local.replace(tzinfo=ZoneInfo(_iana(str(edge.get("timeZone") or "UTC"))))


def _iana(name: str) -> str:
    """IANA names as they are; Windows names (Outlook's) mapped; anything else: UTC."""
    if name in _ZONES:
        return name
    mapped = WINDOWS_TO_OLSON.get(name)
    return mapped if mapped in _ZONES else "UTC"


def _utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(body: dict[str, Any]) -> str:
    return str(body.get("content") or "")


def _status(event: GraphEvent) -> MeetingStatus:
    """``showAs`` is free/busy, not the meeting's status: only a cancelled event differs."""
    return MeetingStatus.CANCELLED if event.get("isCancelled") else MeetingStatus.CONFIRMED


def _attendee(attendee: dict[str, Any]) -> Participant:
    address = (attendee.get("emailAddress") or {}).get("address")
    name = (attendee.get("emailAddress") or {}).get("name") or ""
    response = (attendee.get("status") or {}).get("response", "none")
    return Participant(
        kind=ParticipantKind.EXTERNAL,
        email=str(address).lower() if address else None,
        name="" if name == address else str(name),
        response=RESPONSE.get(str(response), ResponseStatus.NEEDS_ACTION),
    )


# --- CRM → Graph, an update -----------------------------------------------------------------------


def changed_fields(ours: GraphEvent, current: GraphEvent) -> GraphEvent:
    """The part of ``ours`` (a full ``render``) that differs from the event as it is: Exchange
    re-invites everyone and resets their answers when the time or the attendee list is written,
    so an unchanged one is not sent. Attendees keep what Exchange knows of them (optional,
    their answer) and the rooms booked stay."""
    patch: GraphEvent = {}
    if ours["subject"] != current.get("subject", ""):
        patch["subject"] = ours["subject"]
    if ours["location"]["displayName"] != (current.get("location") or {}).get("displayName", ""):
        patch["location"] = ours["location"]
    if ours["body"]["content"].strip() != _text(current.get("body") or {}).strip():
        patch["body"] = ours["body"]
    if ours["sensitivity"] != current.get("sensitivity", "normal"):
        patch["sensitivity"] = ours["sensitivity"]
    if _when(ours) != _when(current):
        patch |= {key: ours[key] for key in ("isAllDay", "start", "end")}
    theirs = current.get("attendees") or []
    if _emails(ours["attendees"]) != _emails([a for a in theirs if a.get("type") != "resource"]):
        patch["attendees"] = _merged(ours["attendees"], theirs)
    return patch


def _when(event: GraphEvent) -> tuple[bool, datetime, datetime]:
    return (
        bool(event.get("isAllDay")),
        _in_zone(event["start"]).astimezone(UTC),
        _in_zone(event["end"]).astimezone(UTC),
    )


def _emails(attendees: list[GraphEvent]) -> set[str]:
    return {str((a.get("emailAddress") or {}).get("address", "")).lower() for a in attendees}


def _merged(ours: list[GraphEvent], theirs: list[GraphEvent]) -> list[GraphEvent]:
    known = {str((a.get("emailAddress") or {}).get("address", "")).lower(): a for a in theirs}
    merged = [known.get(str(a["emailAddress"]["address"]).lower(), a) for a in ours]
    return merged + [a for a in theirs if a.get("type") == "resource"]
