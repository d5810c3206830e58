"""Names shared by rendering and parsing."""

from __future__ import annotations

from calsync_contracts.meeting import ResponseStatus

CRM_ID_PROPERTY = "X-CRM-MEETING-ID"

PARTSTAT = {
    ResponseStatus.NEEDS_ACTION: "NEEDS-ACTION",
    ResponseStatus.ACCEPTED: "ACCEPTED",
    ResponseStatus.DECLINED: "DECLINED",
    ResponseStatus.TENTATIVE: "TENTATIVE",
}
RESPONSE = {value: key for key, value in PARTSTAT.items()}
