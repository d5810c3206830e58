"""``sync_core.ports.CalendarPort`` for one CalDAV account: the protocol client (``dav``) plus the
iCalendar mapping (``ical``). A calendar id is the collection's URL, an external id is a
resource's href (an edited occurrence: ``href#<RECURRENCE-ID>``).

Cursors: ``sync:<token>`` when the collection supports RFC 6578 sync-collection, else
``ctag:<getctag>`` (the ETag-diff mode for servers without, or with broken, sync tokens). A token
straight from a full listing is marked ``sync:fresh:<token>``. A server that refuses such a token
at its first use, twice running (the second listing marks its token ``sync:suspect:``), has
broken tokens: that calendar goes to the ETag-diff mode for good (else every pass would pay a
refused request and a full listing). One refusal alone may be a server's restore or cleanup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from urllib.parse import urljoin

from calsync_contracts.events import ProviderEventFields
from sync_caldav.mapping import parse_resource, render_resource, resource_name
from sync_caldav.occurrences import remove_occurrence
from sync_caldav.webdav.client import DavClient, Resource
from sync_caldav.webdav.xml import normalise_href
from sync_core.errors import AlreadyExists, CursorInvalid, PreconditionFailed, UnreadableItem
from sync_core.items import (
    OCCURRENCE_SEPARATOR,
    ChangeBatch,
    Listing,
    ProviderItem,
    WriteResult,
    occurrence_id,
    series_of,
)
from sync_core.ports import OutboundEvent
from sync_core.window import SyncWindow

SYNC = "sync:"
FRESH = "fresh:"
SUSPECT = "suspect:"
CTAG = "ctag:"


class CalDavCalendar:
    def __init__(self, client: DavClient) -> None:
        self.client = client
        self._ctag_mode: set[str] = set()
        """Calendars whose CTag changed, or whose suspect token was refused, in this pass: the
        listing the engine makes next, at once, ends in a CTag cursor again."""
        self._suspect: set[str] = set()
        """Calendars whose fresh token was refused in this pass: the next listing's token is
        marked suspect."""

    # --- reading ------------------------------------------------------------------------------

    async def changes_since(self, calendar_id: str, cursor: str) -> ChangeBatch:
        if cursor.startswith(CTAG):
            return await self._ctag_changes(calendar_id, cursor)
        token = cursor.removeprefix(SYNC)
        try:
            plain = token.removeprefix(FRESH).removeprefix(SUSPECT)
            result = await self.client.sync_collection(calendar_id, plain)
        except CursorInvalid:
            if token.startswith(SUSPECT):
                self._ctag_mode.add(calendar_id)
            elif token.startswith(FRESH):
                self._suspect.add(calendar_id)
            raise
        changed = await self._load(calendar_id, [href for href, _ in result.changed])
        return ChangeBatch(changed, list(result.deleted), SYNC + result.token)

    async def _ctag_changes(self, calendar_id: str, cursor: str) -> ChangeBatch:
        """One PROPFIND: the same CTag means nothing changed (the idle poll costs 1 request);
        a new one makes the engine diff ETags in a full listing."""
        ctag = await self.client.ctag(calendar_id)
        if ctag is not None and CTAG + ctag == cursor:
            return ChangeBatch([], [], cursor)
        self._ctag_mode.add(calendar_id)
        raise CursorInvalid("the collection changed (CTag): compare ETags")

    async def list_window(
        self, calendar_id: str, window: SyncWindow, known: Mapping[str, str | None]
    ) -> Listing:
        # The cursor is taken BEFORE listing: a change made meanwhile shows up next time.
        if calendar_id in self._ctag_mode:
            token, ctag = None, await self.client.ctag(calendar_id)
        else:
            token, ctag = await self.client.collection_state(calendar_id)
        etags = await self.client.list_etags(calendar_id, window.start, window.end)
        unchanged = [href for href, etag in etags.items() if known.get(href) == etag]
        fetch = [href for href in etags if href not in unchanged]
        items = await self._load(calendar_id, fetch)
        mark = SUSPECT if calendar_id in self._suspect else FRESH
        cursor = SYNC + mark + token if token else (CTAG + ctag if ctag else None)
        return Listing(items, unchanged, cursor)

    async def fetch(self, calendar_id: str, external_id: str) -> ProviderItem | None:
        found = await self.client.get(self._href(calendar_id, series_of(external_id)))
        if found is None:
            return None
        etag, data = found
        for item in _items(series_of(external_id), etag, data):
            if item.external_id == external_id:
                return item
        return None

    async def _load(self, calendar_id: str, hrefs: list[str]) -> list[ProviderItem]:
        if not hrefs:
            return []
        items: list[ProviderItem] = []
        async for chunk in self.client.multiget(calendar_id, hrefs):
            # Parsing is CPU work: off the event loop, so the next chunk's request proceeds.
            items.extend(await asyncio.to_thread(_parse_chunk, chunk))
        return items

    # --- writing ------------------------------------------------------------------------------

    async def create(self, calendar_id: str, event: OutboundEvent) -> WriteResult:
        href = self._href(calendar_id, resource_name(event.meeting))
        try:
            etag = await self.client.put(href, render_resource(event), if_none_match=True)
        except PreconditionFailed as taken:
            raise AlreadyExists(normalise_href(href)) from taken
        return WriteResult(normalise_href(href), etag)

    async def update(
        self, calendar_id: str, external_id: str, event: OutboundEvent, if_match: str | None
    ) -> WriteResult:
        """Reads the resource first: the rewrite keeps what other clients stored in it (alarms,
        their X- properties, other occurrences' overrides) and SEQUENCE continues from it."""
        href = self._href(calendar_id, series_of(external_id))
        found = await self.client.get(href)
        if found is None:
            raise PreconditionFailed(f"{href} is gone")
        etag, existing = found
        occurrence = OCCURRENCE_SEPARATOR in external_id
        if not occurrence and if_match is not None and etag != if_match:
            raise PreconditionFailed(f"{href} changed")
        # An occurrence only rewrites its own VEVENT: the series' current ETag guards the write.
        new_etag = await self.client.put(href, render_resource(event, existing), if_match=etag)
        return WriteResult(external_id, new_etag)

    async def delete(
        self,
        calendar_id: str,
        external_id: str,
        if_match: str | None,
        notify_guests: bool = False,
    ) -> None:
        """``notify_guests`` needs nothing here: a server that schedules (no SCHEDULE-AGENT=
        CLIENT on the attendees, RFC 6638 §3.2.6) mails the cancellation on DELETE itself."""
        href = self._href(calendar_id, series_of(external_id))
        if OCCURRENCE_SEPARATOR not in external_id:
            await self.client.delete(href, if_match=if_match)
            return
        found = await self.client.get(href)
        if found is None:
            return
        etag, existing = found
        instant = external_id.split(OCCURRENCE_SEPARATOR, 1)[1]
        await self.client.put(href, remove_occurrence(existing, instant), if_match=etag)

    def _href(self, calendar_id: str, name_or_href: str) -> str:
        return urljoin(calendar_id, name_or_href)


def _parse_chunk(chunk: list[Resource]) -> list[ProviderItem]:
    return [item for href, etag, data in chunk for item in _items(href, etag, data)]


def _items(href: str, etag: str | None, data: bytes) -> list[ProviderItem]:
    """One resource → its series (or single event) and its edited occurrences. An unreadable
    resource becomes one item carrying the error: recorded, skipped, never fatal."""
    try:
        parsed = parse_resource(data)
    except UnreadableItem as error:
        return [ProviderItem(href, etag, error=str(error) or "unreadable iCalendar")]
    uid, crm_id = parsed.ical_uid, parsed.crm_meeting_id
    items = []
    if parsed.master is not None:
        items.append(ProviderItem(href, etag, uid, crm_id, parsed.master))
    for override in parsed.overrides:
        items.append(ProviderItem(_occurrence(href, override), etag, uid, crm_id, override))
    return items


def _occurrence(href: str, fields: ProviderEventFields) -> str:
    assert fields.recurrence_id is not None, "overrides carry their RECURRENCE-ID"
    return occurrence_id(href, fields.recurrence_id)
