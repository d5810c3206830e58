"""The provider-mapped part of a meeting in one comparable form, and its content hash.

Both sides are reduced to the same view: the CRM meeting (``meeting_view``) and the provider item
(``provider_view``). Comparing views, never raw payloads, is what ignores churn — DTSTAMP,
LAST-MODIFIED, CREATED, PRODID, server SEQUENCE bumps and VTIMEZONE blocks never reach a view, so
they can never look like an edit (vdirsyncer's status table; vdirsyncer #318, Odoo PR #217949).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from calsync_contracts.events import ProviderEventFields
from calsync_contracts.meeting import MeetingSnapshot, MeetingTime, Participant, TimedSpan

PROVIDER_FIELDS = (
    "subject",
    "location",
    "description",
    "time",
    "private",
    "status",
    "attendees",
    "recurrence",
)
"""What a provider can change. Everything else on a meeting is CRM-only."""

View = dict[str, Any]


def attendee_view(participants: list[Participant]) -> list[dict[str, str]]:
    """Attendees as a provider sees them: who (by email) and their answer, order-free."""
    return sorted(
        ({"email": p.email.lower(), "response": p.response.value} for p in participants if p.email),
        key=lambda a: a["email"],
    )


def time_view(time: MeetingTime) -> dict[str, Any]:
    """Instants in UTC: 10:00+01:00 and 09:00Z are the same time, whichever way a server wrote
    it. The zone stays part of the view (it drives DST for series and display)."""
    if isinstance(time, TimedSpan):
        return {
            "kind": time.kind,
            "start": time.start.astimezone(UTC).isoformat(),
            "end": time.end.astimezone(UTC).isoformat(),
            "timezone": time.timezone,
        }
    return time.model_dump(mode="json")


def meeting_view(meeting: MeetingSnapshot) -> View:
    """The provider-mapped fields of a CRM meeting, in comparable JSON form."""
    return {
        "subject": meeting.subject,
        "location": meeting.location,
        "description": meeting.description,
        "time": time_view(meeting.time),
        "private": meeting.private,
        "status": meeting.status.value,
        "attendees": attendee_view(meeting.participants),
        "recurrence": meeting.recurrence.model_dump(mode="json") if meeting.recurrence else None,
    }


def provider_view(fields: ProviderEventFields) -> View:
    return {
        "subject": fields.subject,
        "location": fields.location,
        "description": fields.description,
        "time": time_view(fields.time),
        "private": fields.private,
        "status": fields.status.value,
        "attendees": attendee_view(fields.attendees),
        "recurrence": fields.recurrence.model_dump(mode="json") if fields.recurrence else None,
    }


def provider_fields_of(meeting: MeetingSnapshot) -> ProviderEventFields:
    """What a faithful provider holds of a meeting after we wrote it."""
    return ProviderEventFields(
        subject=meeting.subject,
        location=meeting.location,
        description=meeting.description,
        time=meeting.time,
        private=meeting.private,
        status=meeting.status,
        attendees=[p for p in meeting.participants if p.email],
        recurrence=meeting.recurrence,
        recurrence_id=meeting.recurrence_id,
    )


def content_hash(view: Mapping[str, Any]) -> str:
    """A stable digest of a view: key order and attendee order do not matter; whitespace at the
    ends of text fields does not either (servers trim or fold lines, RFC 5545 §3.1)."""
    normalised = {
        name: value.strip() if isinstance(value, str) else value for name, value in view.items()
    }
    canonical = json.dumps(normalised, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def display_view(meeting: MeetingSnapshot, shown_fields: frozenset[str]) -> View | None:
    """The CRM-only details a tenant chose to show in the provider event (meeting type, custom
    fields, organisations and persons without email). They are written, never read back: custom
    values edited in the provider are not copied to the CRM. None when nothing extra is shown, so
    an imported event is not rewritten just to add nothing."""
    view: View = {}
    if "meeting_type" in shown_fields and meeting.meeting_type_id is not None:
        view["meeting_type"] = str(meeting.meeting_type_id)
    if "custom_fields" in shown_fields and meeting.custom_fields:
        view["custom_fields"] = {k: str(v) for k, v in meeting.custom_fields.items()}
    if "participants" in shown_fields:
        names = sorted(p.name for p in meeting.participants if not p.email and p.name)
        if names:
            view["participants"] = names
    return view or None


def display_hash(meeting: MeetingSnapshot, shown_fields: frozenset[str]) -> str | None:
    view = display_view(meeting, shown_fields)
    return content_hash(view) if view is not None else None
