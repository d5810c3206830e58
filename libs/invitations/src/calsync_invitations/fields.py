"""The merge fields of "synced meeting" templates: the only names a template may use.

A template is checked against this list when it is saved (``templates.check``): an unknown
field, or a field of another template type, is refused naming it, so a merge code never reaches
a recipient as raw text.
"""

from __future__ import annotations

from types import MappingProxyType

MEETING_FIELDS = MappingProxyType(
    {
        "meeting.subject": "Subject",
        "meeting.location": "Location",
        "meeting.description": "Description",
        "meeting.start": "Start (date and time in the recipient's language and time zone)",
        "meeting.end": "End (date and time in the recipient's language and time zone)",
        "meeting.start_date": "Start date",
        "meeting.end_date": "End date (the last day, for all-day meetings)",
        "meeting.start_time": "Start time",
        "meeting.end_time": "End time",
        "meeting.time_zone": "The recipient's time zone",
        "meeting.all_day": "True for an all-day meeting",
        "meeting.organiser": "The organiser (the meeting's owner): name",
        "meeting.organiser_email": "The organiser's email address",
        "meeting.booked_by": "Who booked it on the owner's behalf: name (empty if the owner)",
        "meeting.organisations": "Organisations taking part (names)",
        "meeting.persons": "Persons taking part (names)",
        "meeting.users": "CRM users taking part (names)",
        "meeting.link": "Link to the meeting in the CRM",
        "meeting.links": "Links given in the meeting (URLs)",
        "recipient.name": "The recipient's name",
        "recipient.email": "The recipient's email address",
    }
)
CUSTOM_PREFIX = "meeting.custom."
"""``meeting.custom.<key>``: a custom field of the meeting, by its key."""

OTHER_TYPES = MappingProxyType(
    {
        "appointment": "plain meeting templates",
        "mail": "email templates",
        "document": "document templates",
    }
)
"""Roots of other template types' fields: refused with that type named (users copy them)."""

ROOTS = frozenset({"meeting", "recipient"})


def describe(path: str) -> str | None:
    """The field's description, or None when ``path`` is no merge field of this type."""
    if path in MEETING_FIELDS:
        return MEETING_FIELDS[path]
    if path.startswith(CUSTOM_PREFIX) and path.count(".") == 2:
        return f"Custom field {path.removeprefix(CUSTOM_PREFIX)!r}"
    return None
