"""Names shared by rendering and parsing."""

from __future__ import annotations

from calsync_contracts.meeting import ResponseStatus

CRM_ID_PROPERTY = "X-CRM-MEETING-ID"
DETAILS_MARKER = "\n\n-- CRM --\n"
"""CRM-only details shown in the event (type, custom fields, organisations) follow this line in
DESCRIPTION, where every calendar program shows them; parsing drops everything after it, so
edits made there are never copied back to the CRM."""

PARTSTAT = {
    ResponseStatus.NEEDS_ACTION: "NEEDS-ACTION",
    ResponseStatus.ACCEPTED: "ACCEPTED",
    ResponseStatus.DECLINED: "DECLINED",
    ResponseStatus.TENTATIVE: "TENTATIVE",
}
RESPONSE = {value: key for key, value in PARTSTAT.items()}
