"""The CRM-only details a tenant shows in provider events, as the text block every adapter
appends to the event's description (and strips when reading it back)."""

from __future__ import annotations

from sync_core.ports import OutboundEvent
from sync_core.views import display_view

DETAILS_MARKER = "\n\n-- CRM --\n"
"""CRM-only details shown in the event (type, custom fields, organisations) follow this line in
the description, where every calendar program shows them; parsing drops everything after it, so
edits made there are never copied back to the CRM."""


def details_block(event: OutboundEvent) -> str:
    """The marker and the details, or "" when the tenant shows nothing extra."""
    view = display_view(event.meeting, event.shown_fields)
    if view is None:
        return ""
    lines = []
    if "meeting_type" in view:
        lines.append(f"Type: {event.meeting_type_name or view['meeting_type']}")
    for key, value in view.get("custom_fields", {}).items():
        lines.append(f"{event.custom_field_labels.get(key, key)}: {value}")
    if "participants" in view:
        lines.append("With: " + ", ".join(view["participants"]))
    return DETAILS_MARKER + "\n".join(lines)


def without_details(description: str) -> str:
    """A description as read back: the details block is the CRM's, never an edit to copy."""
    return description.split(DETAILS_MARKER, 1)[0]
