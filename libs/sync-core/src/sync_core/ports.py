"""The ports the engine drives. Adapters implement them; the engine never does I/O itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID

from calsync_contracts.events import ProviderChange
from calsync_contracts.meeting import MeetingSnapshot
from sync_core.items import ChangeBatch, Listing, ProviderItem, WriteResult
from sync_core.links import Link
from sync_core.window import SyncWindow

SHOWABLE_FIELDS = ("description", "location", "participants", "meeting_type", "custom_fields")
"""CRM fields a tenant may choose to show in the provider event (beyond subject and time)."""


@dataclass(frozen=True, slots=True)
class OutboundEvent:
    """A CRM meeting as it should appear in the provider calendar."""

    meeting: MeetingSnapshot
    shown_fields: frozenset[str] = field(default_factory=lambda: frozenset(SHOWABLE_FIELDS))
    """Which of ``SHOWABLE_FIELDS`` appear in the provider event."""
    notifier_sends_invitations: bool = True
    """Our notifier mails invitations: the server must not (CalDAV ``SCHEDULE-AGENT=CLIENT``,
    RFC 6638 §7.1; Google ``sendUpdates=none``; EWS ``SendToNone``). Never both (Cal.com #7735)."""
    all_day_zone: str = "UTC"
    """The user's zone, where an all-day meeting runs midnight to midnight for a provider that
    keeps a zone with it (Exchange); CalDAV and Google keep dates alone."""
    meeting_type_name: str | None = None
    custom_field_labels: dict[str, str] = field(default_factory=dict)


class CalendarPort(Protocol):
    """One connected account's calendars. ``calendar_id`` is the provider's calendar id (a
    CalDAV collection URL, a Google calendar id, an EWS folder id)."""

    async def changes_since(self, calendar_id: str, cursor: str) -> ChangeBatch:
        """Incremental changes. Raises ``CursorInvalid`` when the cursor is no longer valid."""
        ...

    async def list_window(
        self, calendar_id: str, window: SyncWindow, known: Mapping[str, str | None]
    ) -> Listing:
        """Every item overlapping the window, with a cursor taken BEFORE listing (so changes
        made during the listing are seen next time, never missed). Items whose version tag
        equals ``known[external_id]`` are only named in ``Listing.unchanged``, not fetched."""
        ...

    async def fetch(self, calendar_id: str, external_id: str) -> ProviderItem | None:
        """The item as it is now, or None when it no longer exists."""
        ...

    async def create(self, calendar_id: str, event: OutboundEvent) -> WriteResult:
        """Idempotent: the item's name / id is chosen from the meeting, and the write is
        conditional on absence (``If-None-Match: *``). Raises ``PreconditionFailed`` when an item
        of that name already exists (a retried create)."""
        ...

    async def update(
        self, calendar_id: str, external_id: str, event: OutboundEvent, if_match: str | None
    ) -> WriteResult:
        """Conditional on ``if_match``. Raises ``PreconditionFailed`` when the item changed."""
        ...

    async def delete(
        self,
        calendar_id: str,
        external_id: str,
        if_match: str | None,
        notify_guests: bool = False,
    ) -> None:
        """Conditional on ``if_match``; an item already gone is success. ``notify_guests``: the
        provider mails the cancellation (it, not our notifier, sends the invitations)."""
        ...


class ChangeSink(Protocol):
    """Where provider changes go: the CRM (through Kafka in the services)."""

    async def publish(self, change: ProviderChange) -> None: ...


class CrmReader(Protocol):
    """Reads the CRM's side for a full sync (meetings that events may have missed)."""

    async def meetings_in_window(
        self, user_id: UUID, window: SyncWindow
    ) -> list[MeetingSnapshot]: ...


class LinkStore(Protocol):
    """The status table and cursors of ONE connection (the adapter binds the connection)."""

    async def by_external_id(self, external_id: str) -> Link | None: ...

    async def by_meeting(self, meeting_id: UUID) -> Link | None: ...

    async def by_uid(self, ical_uid: str) -> Link | None: ...

    async def in_calendar(self, calendar_id: str) -> list[Link]: ...

    async def all_links(self) -> list[Link]: ...

    async def with_pending(self) -> list[Link]:
        """Rows whose change may not have been published (a crash in between)."""
        ...

    async def outside(self, calendar_ids: tuple[str, ...]) -> list[Link]:
        """Rows of calendars no longer picked."""
        ...

    async def occurrences_of(self, external_id: str) -> list[Link]:
        """Edited occurrences held inside the item ``external_id``."""
        ...

    async def save(self, link: Link, replaces: str | None = None) -> None:
        """Upsert by external id; ``replaces`` names the row's previous external id (an item
        re-listed under a new id) which is removed in the same step."""
        ...

    async def save_many(self, links: list[Link]) -> None:
        """Upserts in one transaction (bookkeeping a crash may lose: re-done next pass)."""
        ...

    async def remove(self, external_id: str) -> None: ...

    async def forget_meeting(self, meeting_id: UUID, version: int) -> None:
        """Remember that the CRM deleted this meeting at ``version``: a redelivered older event
        of it must not bring it back."""
        ...

    async def forgotten_at(self, meeting_id: UUID) -> int | None: ...

    async def cursor(self, calendar_id: str) -> str | None: ...

    async def save_cursor(self, calendar_id: str, cursor: str | None) -> None: ...

    async def record_bad_item(self, calendar_id: str, external_id: str, error: str) -> None: ...

    async def clear_bad_item(self, external_id: str) -> None: ...

    async def bad_item_ids(self) -> list[str]: ...


@runtime_checkable
class PushPort(Protocol):
    """A provider that notifies us of changes (Google ``events.watch``). Optional: an adapter
    without it is polled only."""

    async def watch(
        self, calendar_id: str, channel_id: str, token: str, address: str
    ) -> tuple[str, datetime]:
        """Opens a channel; returns the provider's resource id and when the channel expires."""
        ...

    async def stop(self, channel_id: str, resource_id: str) -> None:
        """Stops a channel; one already gone is success."""
        ...
