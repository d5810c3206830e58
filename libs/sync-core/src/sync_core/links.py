"""The status table (vdirsyncer): one row per linked (connection, provider item)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Link:
    calendar_id: str
    external_id: str
    version_tag: str | None
    """The provider's version (ETag / changeKey) we last saw or wrote."""
    provider_hash: str | None
    """``content_hash`` of the provider item's view at ``version_tag``."""
    crm_meeting_id: UUID | None = None
    """None while an imported item waits for the CRM to create its meeting."""
    ical_uid: str | None = None
    crm_version: int | None = None
    """The CRM meeting version both sides last agreed on (the merge base's version)."""
    crm_hash: str | None = None
    """``content_hash`` of the CRM view at ``crm_version``. Differs from ``provider_hash``
    while a provider change waits for the CRM's answer (its merge)."""
    display_hash: str | None = None
    """``display_hash`` of the CRM-only details last written (type, custom fields, …)."""
    base: dict[str, Any] | None = None
    """The provider item's fields (``ProviderEventFields`` as JSON) as we last read or wrote
    them: sent with the next change as its merge base."""
    last_error: str | None = None
    """Why the last attempt on this item failed (shown to users; cleared on success)."""
    pending: dict[str, Any] | None = None
    """A provider change (``ProviderChange`` as JSON) saved with this row and not yet known to
    be published: the next pass publishes it first (a one-row outbox, so a crash between
    the two steps loses nothing)."""
    deleted: bool = False
    """A tombstone: the item was deleted in the provider and the CRM has not confirmed yet; a
    full sync must not create the meeting again meanwhile."""
