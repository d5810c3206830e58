"""CRM meetings ⇄ iCalendar resources (RFC 5545), built and read with ``icalendar``."""

from sync_caldav.mapping.common import CRM_ID_PROPERTY
from sync_caldav.mapping.parse import ParsedResource, parse_resource
from sync_caldav.mapping.render import render_resource, resource_name

__all__ = [
    "CRM_ID_PROPERTY",
    "ParsedResource",
    "parse_resource",
    "render_resource",
    "resource_name",
]
