"""``sync_core.ports.CalendarPort`` for one Exchange Online account through Microsoft Graph. A
calendar id is Graph's calendar id; an external id is an event id.

Cursors are ``delta:<$deltatoken>`` of the calendar view's delta query ("Get incremental
changes to events in a calendar view"): the window is fixed by the listing that started the
round, and every later round asks only for what changed. A calendar view lists a recurring
series as its occurrences: each is an item of its own here (an edited occurrence is simply
an edited item), which the CRM shows as separate meetings.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

from sync_core.errors import AlreadyExists, CursorInvalid, PreconditionFailed, UnreadableItem
from sync_core.items import ChangeBatch, Listing, ProviderItem, WriteResult
from sync_core.ports import OutboundEvent
from sync_core.views import meeting_view, provider_view
from sync_core.window import SyncWindow
from sync_exchange.graph.client import Graph, Missing
from sync_exchange.graph.mapping import CRM_PROPERTY_ID, GraphEvent, crm_id_of, parse, render

DELTA = "delta:"
PAGE_SIZE = 500
READ = {"Prefer": f'outlook.body-content-type="text", odata.maxpagesize={PAGE_SIZE}'}


class GraphCalendar:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    # --- reading ------------------------------------------------------------------------------

    async def changes_since(self, calendar_id: str, cursor: str) -> ChangeBatch:
        if not cursor.startswith(DELTA):
            raise CursorInvalid("not a Graph delta token")
        url = self._view(calendar_id)
        events, token = await self._round(url, {"$deltatoken": cursor.removeprefix(DELTA)})
        gone = [str(e["id"]) for e in events if "@removed" in e]
        changed = [_item(e) for e in events if "@removed" not in e]
        return ChangeBatch(changed, gone, DELTA + token if token else None)

    async def list_window(
        self, calendar_id: str, window: SyncWindow, known: Mapping[str, str | None]
    ) -> Listing:
        params = {"startDateTime": window.start.isoformat(), "endDateTime": window.end.isoformat()}
        events, token = await self._round(self._view(calendar_id), params)
        items = [_item(e) for e in events if "@removed" not in e]
        unchanged = [i.external_id for i in items if known.get(i.external_id) == i.version_tag]
        fresh = [i for i in items if i.external_id not in unchanged]
        return Listing(fresh, unchanged, DELTA + token if token else None)

    async def fetch(self, calendar_id: str, external_id: str) -> ProviderItem | None:
        expand = f"singleValueExtendedProperties($filter=id eq '{CRM_PROPERTY_ID}')"
        try:
            event = await self.graph.call(
                "GET", f"me/events/{external_id}", params={"$expand": expand}, headers=READ
            )
        except Missing:
            return None
        return _item(event)

    async def _round(self, url: str, params: dict[str, str]) -> tuple[list[GraphEvent], str]:
        """Every page of one delta round; the delta token comes with the last."""
        events: list[GraphEvent] = []
        answer = await self.graph.call("GET", url, params=params, headers=READ)
        while True:
            events += answer.get("value", [])
            following = answer.get("@odata.nextLink")
            if not following:
                return events, _token(answer.get("@odata.deltaLink", ""))
            answer = await self.graph.call("GET", following, headers=READ)

    def _view(self, calendar_id: str) -> str:
        return f"me/calendars/{calendar_id}/calendarView/delta"

    # --- writing ------------------------------------------------------------------------------

    async def create(self, calendar_id: str, event: OutboundEvent) -> WriteResult:
        """``transactionId`` (the meeting's id) makes a retried POST answer the event the first
        one made, never a second event. That event is this write's result when it holds what we
        sent; one edited since (in Exchange, or a newer version of the meeting) is reported as
        AlreadyExists, and the engine fetches and merges it."""
        body = render(event, create=True)
        created = await self.graph.call("POST", f"me/calendars/{calendar_id}/events", json=body)
        item = _item(created)
        if item.fields is None or provider_view(item.fields) != meeting_view(event.meeting):
            raise AlreadyExists(item.external_id)
        return WriteResult(item.external_id, item.version_tag)

    async def update(
        self, calendar_id: str, external_id: str, event: OutboundEvent, if_match: str | None
    ) -> WriteResult:
        try:
            updated = await self.graph.call(
                "PATCH", f"me/events/{external_id}", json=render(event), if_match=if_match
            )
        except Missing:
            raise PreconditionFailed(f"{external_id} is gone") from None
        return WriteResult(external_id, str(updated["@odata.etag"]))

    async def delete(
        self,
        calendar_id: str,
        external_id: str,
        if_match: str | None,
        notify_guests: bool = False,
    ) -> None:
        """``notify_guests``: the organizer's ``cancel`` action, which mails the attendees and
        deletes the event; a plain DELETE tells no one."""
        try:
            if notify_guests:
                await self.graph.call("POST", f"me/events/{external_id}/cancel", json={})
                return
            await self.graph.call("DELETE", f"me/events/{external_id}", if_match=if_match)
        except Missing:
            return


def _item(event: GraphEvent) -> ProviderItem:
    external_id, tag = str(event.get("id")), event.get("@odata.etag")
    uid = event.get("iCalUId")
    try:
        fields = parse(event)
    except UnreadableItem as error:
        return ProviderItem(external_id, tag, uid, error=str(error) or "unreadable event")
    return ProviderItem(external_id, tag, uid, crm_id_of(event), fields)


def _token(delta_link: str) -> str:
    values = parse_qs(urlsplit(delta_link).query).get("$deltatoken", [""])
    return values[0]
