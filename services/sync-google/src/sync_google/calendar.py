"""``sync_core.ports.CalendarPort`` for one Google account. A calendar id is Google's calendar
id; an external id is an event id (an edited occurrence: ``<series>#<original start>``).

Cursors are ``sync:<nextSyncToken>`` ("Synchronize resources efficiently": the token comes with
the last page of a listing and names the moment that listing started, so nothing made meanwhile
is missed). A series' version tag is its ETag plus a digest of its cancelled instances: Google
keeps a deleted occurrence as an event of its own, which does not change the series' ETag but
does change the series as the engine sees it (one more excluded date).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sync_core.errors import AlreadyExists, CursorInvalid, PreconditionFailed, UnreadableItem
from sync_core.items import (
    OCCURRENCE_SEPARATOR,
    ChangeBatch,
    Listing,
    ProviderItem,
    WriteResult,
    series_of,
)
from sync_core.ports import OutboundEvent
from sync_core.window import SyncWindow
from sync_google.api import Duplicate, Gone, execute
from sync_google.mapping import (
    GoogleEvent,
    crm_id_of,
    event_id_for,
    external_id_of,
    google_id,
    merged_attendees,
    parse,
    render,
    send_updates,
)

SYNC = "sync:"
PAGE_SIZE = 2500  # events.list's largest page
TAG_SEPARATOR = "~"


class GoogleCalendar:
    def __init__(self, service: Any) -> None:
        self.events = service.events()
        self.channels = service.channels()

    # --- reading ------------------------------------------------------------------------------

    async def changes_since(self, calendar_id: str, cursor: str) -> ChangeBatch:
        if not cursor.startswith(SYNC):
            raise CursorInvalid("not a Google sync token")
        listed, token = await self._list(calendar_id, syncToken=cursor.removeprefix(SYNC))
        gone = [e for e in listed if e.get("status") == "cancelled"]
        # A cancelled instance may have been an edited occurrence the engine links: named as
        # deleted (an id it never linked is ignored) and its date excluded from the series.
        deleted = [external_id_of(e) for e in gone]
        series = {e.get("recurringEventId") or e["id"] for e in listed if e not in gone}
        series |= {e["recurringEventId"] for e in gone if "recurringEventId" in e}
        series -= {e["id"] for e in gone}
        changed: list[ProviderItem] = []
        for series_id in sorted(series):
            family = await self._family(calendar_id, series_id, listed)
            changed += _items(family)
        return ChangeBatch(changed, deleted, SYNC + token if token else None)

    async def list_window(
        self, calendar_id: str, window: SyncWindow, known: Mapping[str, str | None]
    ) -> Listing:
        listed, token = await self._list(
            calendar_id,
            timeMin=window.start.isoformat(),
            timeMax=window.end.isoformat(),
            singleEvents=False,
        )
        # A series with all its cancelled and edited instances, those outside the window too,
        # as the incremental path sees it (else the two would disagree on its excluded dates).
        whole = {e["id"]: e for e in listed}
        for series in [e for e in listed if e.get("recurrence")]:
            whole |= {e["id"]: e for e in await self._family(calendar_id, series["id"], listed)}
        items = _items(list(whole.values()))
        unchanged = [i.external_id for i in items if known.get(i.external_id) == i.version_tag]
        fresh = [i for i in items if i.external_id not in unchanged]
        return Listing(fresh, unchanged, SYNC + token if token else None)

    async def fetch(self, calendar_id: str, external_id: str) -> ProviderItem | None:
        try:
            event = await execute(
                self.events.get(calendarId=calendar_id, eventId=google_id(external_id))
            )
        except Gone:
            return None
        if event.get("status") == "cancelled":
            return None
        family = await self._family(calendar_id, series_of(external_id), [event])
        return next((i for i in _items(family) if i.external_id == external_id), None)

    async def _list(self, calendar_id: str, **query: Any) -> tuple[list[GoogleEvent], str]:
        """Every page of ``events.list``; the sync token comes with the last one."""
        events: list[GoogleEvent] = []
        page: str | None = None
        while True:
            answer = await execute(
                self.events.list(
                    calendarId=calendar_id, maxResults=PAGE_SIZE, pageToken=page, **query
                )
            )
            events += answer.get("items", [])
            page = answer.get("nextPageToken")
            if not page:
                return events, str(answer.get("nextSyncToken") or "")

    async def _family(
        self, calendar_id: str, series_id: str, seen: list[GoogleEvent]
    ) -> list[GoogleEvent]:
        """A single event alone; a series with its exceptions (edited and cancelled
        instances), which ``events.list`` by iCalUID returns together."""
        own = next((e for e in seen if e.get("id") == series_id), None)
        if own is None:
            try:
                own = await execute(self.events.get(calendarId=calendar_id, eventId=series_id))
            except Gone:
                return [e for e in seen if e.get("recurringEventId") == series_id]
        if not own.get("recurrence") or not own.get("iCalUID"):
            return [own]
        family, _ = await self._list(calendar_id, iCalUID=own["iCalUID"], showDeleted=True)
        return [e for e in family if e["id"] == series_id or e.get("recurringEventId") == series_id]

    # --- writing ------------------------------------------------------------------------------

    async def create(self, calendar_id: str, event: OutboundEvent) -> WriteResult:
        body = {**render(event), "id": event_id_for(event.meeting)}
        request = self.events.insert(
            calendarId=calendar_id, body=body, sendUpdates=send_updates(event)
        )
        try:
            created = await execute(request)
        except Duplicate:
            created = await self._revive(calendar_id, body, event)
        return WriteResult(str(created["id"]), str(created["etag"]))

    async def _revive(
        self, calendar_id: str, body: GoogleEvent, event: OutboundEvent
    ) -> GoogleEvent:
        """The id is taken: by a retried create (AlreadyExists, the engine links it), or by
        this meeting's event deleted in Google, whose id can never be used again; that one is
        brought back (a meeting the CRM revived, or edited after Google's deletion)."""
        try:
            existing = await execute(self.events.get(calendarId=calendar_id, eventId=body["id"]))
        except Gone:
            raise AlreadyExists(body["id"]) from None
        if existing.get("status") != "cancelled":
            raise AlreadyExists(body["id"])
        revived = {**body, "status": body.get("status", "confirmed")}
        request = self.events.patch(
            calendarId=calendar_id,
            eventId=body["id"],
            body=revived,
            sendUpdates=send_updates(event),
        )
        return dict(await execute(request, str(existing["etag"])))

    async def update(
        self, calendar_id: str, external_id: str, event: OutboundEvent, if_match: str | None
    ) -> WriteResult:
        """``events.patch``, not ``update``: what other programs keep in the event (reminders,
        colour, conference link, attachments) stays, and so do the guests' answers and the
        rooms (read first: the attendee list is replaced as a whole). An occurrence is written
        as its instance (making it an exception); its first edit only knows the series' tag, and
        an instance has an ETag of its own, so occurrence writes are not conditional."""
        occurrence = OCCURRENCE_SEPARATOR in external_id
        body = render(event)
        body["attendees"] = merged_attendees(
            body["attendees"], await self._attendees(calendar_id, google_id(external_id))
        )
        request = self.events.patch(
            calendarId=calendar_id,
            eventId=google_id(external_id),
            body=body,
            sendUpdates=send_updates(event),
        )
        try:
            updated = await execute(request, None if occurrence else _etag(if_match))
        except Gone:
            raise PreconditionFailed(f"{external_id} is gone") from None
        return WriteResult(external_id, await self._tag_after_write(calendar_id, updated))

    async def _attendees(self, calendar_id: str, event_id: str) -> list[GoogleEvent]:
        try:
            current = await execute(self.events.get(calendarId=calendar_id, eventId=event_id))
        except Gone:
            return []
        return list(current.get("attendees", []))

    async def delete(
        self,
        calendar_id: str,
        external_id: str,
        if_match: str | None,
        notify_guests: bool = False,
    ) -> None:
        occurrence = OCCURRENCE_SEPARATOR in external_id
        request = self.events.delete(
            calendarId=calendar_id,
            eventId=google_id(external_id),
            sendUpdates="all" if notify_guests else "none",
        )
        try:
            await execute(request, None if occurrence else _etag(if_match))
        except Gone:
            return

    # --- push (sync_core.ports.PushPort) -----------------------------------------------------

    async def watch(
        self, calendar_id: str, channel_id: str, token: str, address: str
    ) -> tuple[str, datetime]:
        """``events.watch``: Google calls ``address`` when the calendar's events change."""
        body = {"id": channel_id, "type": "web_hook", "address": address, "token": token}
        opened = await execute(self.events.watch(calendarId=calendar_id, body=body))
        expires = datetime.fromtimestamp(int(opened["expiration"]) / 1000, UTC)
        return str(opened["resourceId"]), expires

    async def stop(self, channel_id: str, resource_id: str) -> None:
        try:
            await execute(self.channels.stop(body={"id": channel_id, "resourceId": resource_id}))
        except Gone:
            return

    async def _tag_after_write(self, calendar_id: str, written: GoogleEvent) -> str:
        if not written.get("recurrence"):
            return str(written["etag"])
        family = await self._family(calendar_id, str(written["id"]), [written])
        return _series_tag(written, family)


# --- items ------------------------------------------------------------------------------------


def _items(events: list[GoogleEvent]) -> list[ProviderItem]:
    """Events → the engine's items: cancelled instances fold into their series' excluded
    dates; an unreadable event becomes an item carrying its error (never fatal)."""
    cancelled: dict[str, list[GoogleEvent]] = defaultdict(list)
    for event in events:
        if event.get("status") == "cancelled" and event.get("recurringEventId"):
            cancelled[event["recurringEventId"]].append(event)
    items = []
    for event in events:
        if event.get("status") == "cancelled":
            continue
        own_cancelled = cancelled.get(event.get("id", ""), [])
        items.append(_item(event, own_cancelled))
    return items


def _item(event: GoogleEvent, cancelled: list[GoogleEvent]) -> ProviderItem:
    external_id = external_id_of(event)
    tag = _series_tag(event, cancelled) if event.get("recurrence") else str(event.get("etag"))
    try:
        fields = parse(event, cancelled)
    except UnreadableItem as error:
        return ProviderItem(external_id, tag, error=str(error) or "unreadable event")
    return ProviderItem(external_id, tag, event.get("iCalUID"), crm_id_of(event), fields)


def _series_tag(series: GoogleEvent, family: list[GoogleEvent]) -> str:
    gone = sorted(
        str(e["id"])
        for e in family
        if e.get("status") == "cancelled" and e.get("recurringEventId") == series.get("id")
    )
    if not gone:
        return str(series["etag"])
    digest = hashlib.sha256("\n".join(gone).encode()).hexdigest()[:12]
    return f"{series['etag']}{TAG_SEPARATOR}{digest}"


def _etag(version_tag: str | None) -> str | None:
    """The ETag Google knows, without our digest of cancelled instances."""
    return version_tag.split(TAG_SEPARATOR, 1)[0] if version_tag else None
