"""In-memory implementations of the ports, for the engine's tests and property tests.

``InMemoryCalendar`` behaves like a CalDAV collection: server-chosen ETags, ``If-Match`` /
``If-None-Match`` preconditions, a change log with sync tokens that can be invalidated, and
injectable failures. It passes the same adapter contract suite as the real CalDAV adapter.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from uuid import UUID

from calsync_contracts.events import ProviderChange, ProviderEventFields
from calsync_contracts.meeting import MeetingSnapshot
from sync_core.errors import (
    AlreadyExists,
    CursorInvalid,
    ItemRefused,
    PreconditionFailed,
    ProviderError,
)
from sync_core.items import (
    OCCURRENCE_SEPARATOR,
    ChangeBatch,
    Listing,
    ProviderItem,
    WriteResult,
)
from sync_core.links import Link
from sync_core.ports import OutboundEvent
from sync_core.views import provider_fields_of
from sync_core.window import SyncWindow

_tags = itertools.count(1)


def fields_of(meeting: MeetingSnapshot) -> ProviderEventFields:
    """What a faithful provider stores of a meeting (attendees = participants with email)."""
    return provider_fields_of(meeting)


@dataclass
class StoredItem:
    fields: ProviderEventFields | None
    tag: str
    ical_uid: str | None
    crm_meeting_id: UUID | None
    raw_error: str | None = None


@dataclass
class InMemoryCalendar:
    items: dict[str, dict[str, StoredItem]] = field(default_factory=dict)
    log: dict[str, list[str]] = field(default_factory=dict)
    """Per calendar, the external ids in the order they changed (a sync token = log length)."""
    epoch: int = 0
    """Bumped to invalidate every cursor (server reset)."""
    fail_next: list[ProviderError] = field(default_factory=list)
    refuse: Callable[[OutboundEvent], bool] = lambda event: False
    requests: int = 0
    cancellations_mailed: list[str] = field(default_factory=list)
    """Deletes the provider was asked to tell the guests about (``notify_guests``)."""

    def add_calendar(self, calendar_id: str) -> None:
        self.items.setdefault(calendar_id, {})
        self.log.setdefault(calendar_id, [])

    # --- the provider's own user editing it -----------------------------------------------------

    def user_put(
        self,
        calendar_id: str,
        external_id: str,
        fields: ProviderEventFields | None,
        ical_uid: str | None = None,
        error: str | None = None,
    ) -> str:
        current = self.items[calendar_id].get(external_id)
        self.items[calendar_id][external_id] = StoredItem(
            fields,
            _new_tag(),
            ical_uid or (current.ical_uid if current else external_id),
            current.crm_meeting_id if current else None,
            error,
        )
        self.log[calendar_id].append(external_id)
        return self.items[calendar_id][external_id].tag

    def user_delete(self, calendar_id: str, external_id: str) -> None:
        if self.items[calendar_id].pop(external_id, None) is not None:
            self.log[calendar_id].append(external_id)

    def touch(self, calendar_id: str, external_id: str) -> None:
        """Server churn: a new ETag for the same content (e.g. a DTSTAMP rewrite)."""
        stored = self.items[calendar_id][external_id]
        self.items[calendar_id][external_id] = replace(stored, tag=_new_tag())
        self.log[calendar_id].append(external_id)

    # --- CalendarPort ---------------------------------------------------------------------------

    async def changes_since(self, calendar_id: str, cursor: str) -> ChangeBatch:
        self._request()
        epoch, _, position = cursor.partition(":")
        valid = epoch == str(self.epoch) and position.isdigit()
        if not valid or int(position) > len(self.log[calendar_id]):
            raise CursorInvalid("sync token no longer valid")
        touched = dict.fromkeys(self.log[calendar_id][int(position) :])
        changed = [self._item(calendar_id, i) for i in touched if i in self.items[calendar_id]]
        deleted = [i for i in touched if i not in self.items[calendar_id]]
        return ChangeBatch(changed, deleted, self._cursor(calendar_id))

    async def list_window(
        self, calendar_id: str, window: SyncWindow, known: Mapping[str, str | None]
    ) -> Listing:
        self._request()
        cursor = self._cursor(calendar_id)
        in_window = [
            external_id
            for external_id, stored in self.items[calendar_id].items()
            if stored.fields is None
            or window.overlaps(stored.fields.time, stored.fields.recurrence)
        ]
        unchanged = [i for i in in_window if known.get(i) == self.items[calendar_id][i].tag]
        items = [self._item(calendar_id, i) for i in in_window if i not in unchanged]
        return Listing(items, unchanged, cursor)

    async def fetch(self, calendar_id: str, external_id: str) -> ProviderItem | None:
        self._request()
        if external_id not in self.items[calendar_id]:
            return None
        return self._item(calendar_id, external_id)

    async def create(self, calendar_id: str, event: OutboundEvent) -> WriteResult:
        self._request()
        external_id = f"{event.meeting.ical_uid}.ics"
        if external_id in self.items[calendar_id]:
            raise AlreadyExists(external_id)
        return self._write(calendar_id, external_id, event)

    async def update(
        self, calendar_id: str, external_id: str, event: OutboundEvent, if_match: str | None
    ) -> WriteResult:
        self._request()
        series_id = external_id.split(OCCURRENCE_SEPARATOR)[0]
        # A first edit of one occurrence goes into its series' item (CalDAV: one resource with
        # one ETag for the series and its RECURRENCE-ID overrides, RFC 4791 §4.1).
        stored = self.items[calendar_id].get(external_id) or self.items[calendar_id].get(series_id)
        if stored is None or (if_match is not None and stored.tag != if_match):
            raise PreconditionFailed(external_id)
        written = self._write(calendar_id, external_id, event)
        tag = self.items[calendar_id][external_id].tag
        for item_id, item in self.items[calendar_id].items():  # the resource's one new ETag
            if item_id.split(OCCURRENCE_SEPARATOR)[0] == series_id:
                item.tag = tag
        return written

    async def delete(
        self,
        calendar_id: str,
        external_id: str,
        if_match: str | None,
        notify_guests: bool = False,
    ) -> None:
        self._request()
        if notify_guests:
            self.cancellations_mailed.append(external_id)
        stored = self.items[calendar_id].get(external_id)
        if stored is None:
            return
        if if_match is not None and stored.tag != if_match:
            raise PreconditionFailed(external_id)
        self.user_delete(calendar_id, external_id)

    # --- helpers --------------------------------------------------------------------------------

    def _request(self) -> None:
        self.requests += 1
        if self.fail_next:
            raise self.fail_next.pop(0)

    def _write(self, calendar_id: str, external_id: str, event: OutboundEvent) -> WriteResult:
        if self.refuse(event):
            raise ItemRefused("the server refused this event")
        meeting = event.meeting
        self.items[calendar_id][external_id] = StoredItem(
            fields_of(meeting), _new_tag(), meeting.ical_uid, meeting.id
        )
        self.log[calendar_id].append(external_id)
        return WriteResult(external_id, self.items[calendar_id][external_id].tag)

    def _item(self, calendar_id: str, external_id: str) -> ProviderItem:
        stored = self.items[calendar_id][external_id]
        return ProviderItem(
            external_id,
            stored.tag,
            stored.ical_uid,
            stored.crm_meeting_id,
            stored.fields,
            stored.raw_error if stored.fields is None else None,
        )

    def _cursor(self, calendar_id: str) -> str:
        return f"{self.epoch}:{len(self.log[calendar_id])}"


def _new_tag() -> str:
    return f'"{next(_tags)}"'


@dataclass
class InMemoryLinkStore:
    links: dict[str, Link] = field(default_factory=dict)
    cursors: dict[str, str | None] = field(default_factory=dict)
    bad_items: dict[str, str] = field(default_factory=dict)
    forgotten: dict[UUID, int] = field(default_factory=dict)

    async def forget_meeting(self, meeting_id: UUID, version: int) -> None:
        self.forgotten[meeting_id] = max(version, self.forgotten.get(meeting_id, 0))

    async def forgotten_at(self, meeting_id: UUID) -> int | None:
        return self.forgotten.get(meeting_id)

    async def by_external_id(self, external_id: str) -> Link | None:
        return self.links.get(external_id)

    async def by_meeting(self, meeting_id: UUID) -> Link | None:
        return next((v for v in self.links.values() if v.crm_meeting_id == meeting_id), None)

    async def by_uid(self, ical_uid: str) -> Link | None:
        return next((v for v in self.links.values() if v.ical_uid == ical_uid), None)

    async def in_calendar(self, calendar_id: str) -> list[Link]:
        return [v for v in self.links.values() if v.calendar_id == calendar_id]

    async def all_links(self) -> list[Link]:
        return list(self.links.values())

    async def with_pending(self) -> list[Link]:
        return [v for v in self.links.values() if v.pending is not None]

    async def outside(self, calendar_ids: tuple[str, ...]) -> list[Link]:
        return [v for v in self.links.values() if v.calendar_id not in calendar_ids]

    async def occurrences_of(self, external_id: str) -> list[Link]:
        prefix = external_id + OCCURRENCE_SEPARATOR
        return [v for v in self.links.values() if v.external_id.startswith(prefix)]

    async def save(self, link: Link, replaces: str | None = None) -> None:
        if replaces is not None:
            self.links.pop(replaces, None)
        self.links[link.external_id] = link

    async def save_many(self, links: list[Link]) -> None:
        for link in links:
            self.links[link.external_id] = link

    async def remove(self, external_id: str) -> None:
        self.links.pop(external_id, None)

    async def cursor(self, calendar_id: str) -> str | None:
        return self.cursors.get(calendar_id)

    async def save_cursor(self, calendar_id: str, cursor: str | None) -> None:
        self.cursors[calendar_id] = cursor

    async def record_bad_item(self, calendar_id: str, external_id: str, error: str) -> None:
        self.bad_items[external_id] = error

    async def clear_bad_item(self, external_id: str) -> None:
        self.bad_items.pop(external_id, None)

    async def bad_item_ids(self) -> list[str]:
        return sorted(self.bad_items)


@dataclass
class RecordingSink:
    published: list[ProviderChange] = field(default_factory=list)

    async def publish(self, change: ProviderChange) -> None:
        self.published.append(change)
