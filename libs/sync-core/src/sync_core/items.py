"""Provider items and listings as the engine sees them, whatever the provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from uuid import UUID

from calsync_contracts.events import ProviderEventFields


@dataclass(frozen=True, slots=True)
class ProviderItem:
    """One provider event (a CalDAV resource, a Google event, an EWS item).

    ``fields`` is None exactly when ``error`` is set: the item exists but could not be read.
    """

    external_id: str
    version_tag: str | None
    ical_uid: str | None = None
    crm_meeting_id: UUID | None = None
    """The CRM id we embedded when we wrote it (X-CRM-MEETING-ID, extended property, …)."""
    fields: ProviderEventFields | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """What changed since a cursor (RFC 6578 sync-collection, Google syncToken, EWS SyncState)."""

    changed: list[ProviderItem] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    """External ids that are gone."""
    cursor: str | None = None
    """The cursor to ask from next time; None when the provider offers none (ETag-diff mode)."""


@dataclass(frozen=True, slots=True)
class Listing:
    """Every item of a calendar inside the sync window: a full listing."""

    items: list[ProviderItem] = field(default_factory=list)
    """Items that are new or whose version tag differs from the one the caller knew."""
    unchanged: list[str] = field(default_factory=list)
    """External ids present with the version tag the caller knew: not fetched again."""
    cursor: str | None = None

    @property
    def size(self) -> int:
        return len(self.items) + len(self.unchanged)


@dataclass(frozen=True, slots=True)
class WriteResult:
    external_id: str
    version_tag: str | None


OCCURRENCE_SEPARATOR = "#"


def occurrence_id(series_external_id: str, recurrence_id: datetime | date) -> str:
    """The external id of an edited occurrence inside its series' provider item (CalDAV keeps a
    series and its RECURRENCE-ID overrides in one resource, RFC 4791 §4.1): the series' id, then
    the occurrence's original start as a UTC instant (or a date for all-day series)."""
    if isinstance(recurrence_id, datetime):
        key = recurrence_id.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    else:
        key = recurrence_id.strftime("%Y%m%d")
    return f"{series_external_id}{OCCURRENCE_SEPARATOR}{key}"


def series_of(external_id: str) -> str:
    return external_id.split(OCCURRENCE_SEPARATOR, 1)[0]
