"""``sync_core.ports.CalendarPort`` for one Exchange Online account through Microsoft Graph. A
calendar id is Graph's calendar id; an external id is an event id.

Cursors are ``delta:<day>:<$deltatoken>`` of the calendar view's delta query ("Get incremental
changes to events in a calendar view"). A delta round keeps the window of the listing that
began it, so a cursor from an earlier day is refused (CursorInvalid): the engine lists again
with today's window, and meetings entering the window are not missed. Graph names as
``@removed`` both deleted events and events moved out of (or made outside) the window: each is
read before being called deleted (a meeting rescheduled past the window is not a deletion).

A calendar view lists a recurring series as its occurrences: each is an item of its own here,
which the CRM shows as a meeting of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sync_core.errors import AlreadyExists, CursorInvalid, PreconditionFailed, UnreadableItem
from sync_core.items import ChangeBatch, Listing, ProviderItem, WriteResult
from sync_core.ports import OutboundEvent
from sync_core.views import time_view
from sync_core.window import SyncWindow
from sync_exchange.graph.client import Graph, Missing
from sync_exchange.graph.mapping import (
    CRM_PROPERTY_ID,
    GraphEvent,
    changed_fields,
    crm_id_of,
    parse,
    render,
)

DELTA = "delta:"
PAGE_SIZE = 500
TEXT = {"Prefer": 'outlook.body-content-type="text"'}
READ = {"Prefer": f'outlook.body-content-type="text", odata.maxpagesize={PAGE_SIZE}'}
EXPAND = {"$expand": f"singleValueExtendedProperties($filter=id eq '{CRM_PROPERTY_ID}')"}


class GraphCalendar:
    def __init__(self, graph: Graph, today: Any = None) -> None:
        self.graph = graph
        self._today = today or (lambda: datetime.now(UTC).strftime("%Y%m%d"))
        self._push = GraphPush(graph)

    async def watch(
        self, calendar_id: str, channel_id: str, token: str, address: str
    ) -> tuple[str, datetime]:
        return await self._push.watch(calendar_id, channel_id, token, address)

    async def stop(self, channel_id: str, resource_id: str) -> None:
        await self._push.stop(channel_id, resource_id)

    # --- reading ------------------------------------------------------------------------------

    async def changes_since(self, calendar_id: str, cursor: str) -> ChangeBatch:
        day, _, token = cursor.removeprefix(DELTA).partition(":")
        if not cursor.startswith(DELTA) or not token:
            raise CursorInvalid("not a Graph delta cursor")
        if day != self._today():
            raise CursorInvalid("the sync window has moved since this delta round began")
        events, following = await self._round(self._view(calendar_id), {"$deltatoken": token})
        changed = [_item(e) for e in events if "@removed" not in e]
        deleted = []
        for removed in [str(e["id"]) for e in events if "@removed" in e]:
            still = await self._get(removed)
            if still is None:
                deleted.append(removed)
            else:
                changed.append(_item(still))  # moved out of the window: not a deletion
        return ChangeBatch(changed, deleted, self._cursor(following))

    async def list_window(
        self, calendar_id: str, window: SyncWindow, known: Mapping[str, str | None]
    ) -> Listing:
        params = {"startDateTime": window.start.isoformat(), "endDateTime": window.end.isoformat()}
        events, token = await self._round(self._view(calendar_id), params)
        items = [_item(e) for e in events if "@removed" not in e]
        unchanged = [i.external_id for i in items if known.get(i.external_id) == i.version_tag]
        fresh = [i for i in items if i.external_id not in unchanged]
        return Listing(fresh, unchanged, self._cursor(token))

    async def fetch(self, calendar_id: str, external_id: str) -> ProviderItem | None:
        event = await self._get(external_id)
        return None if event is None else _item(event)

    async def _get(self, event_id: str) -> GraphEvent | None:
        try:
            found: GraphEvent = await self.graph.call(
                "GET", f"me/events/{event_id}", params=EXPAND, headers=TEXT
            )
        except Missing:
            return None
        return found

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

    def _cursor(self, token: str) -> str | None:
        return f"{DELTA}{self._today()}:{token}" if token else None

    # --- writing ------------------------------------------------------------------------------

    async def create(self, calendar_id: str, event: OutboundEvent) -> WriteResult:
        """``transactionId`` (the meeting's id) makes a retried POST answer the event the first
        one made, never a second event. That event is this write's result when it still has
        the subject and time we sent; one edited since (in Outlook, or a newer version of the
        meeting) is reported as AlreadyExists, and the engine fetches and merges it. (Guests'
        answers and the body's format are Exchange's: not compared.)"""
        body = render(event, create=True)
        created = await self.graph.call(
            "POST", f"me/calendars/{calendar_id}/events", json=body, headers=TEXT
        )
        item = _item(created)
        meeting = event.meeting
        same = item.fields is not None and (
            (item.fields.subject, time_view(item.fields.time))
            == (meeting.subject, time_view(meeting.time))
        )
        if not same:
            raise AlreadyExists(item.external_id)
        return WriteResult(item.external_id, item.version_tag)

    async def update(
        self, calendar_id: str, external_id: str, event: OutboundEvent, if_match: str | None
    ) -> WriteResult:
        """Only what changed is sent: rewriting the time (or the attendees) makes Exchange mail
        everyone again and reset their answers; rooms, optional guests and answers are kept."""
        current = await self._get(external_id)
        if current is None:
            raise PreconditionFailed(f"{external_id} is gone")
        patch = changed_fields(render(event), current)
        if not patch:
            return WriteResult(external_id, str(current["@odata.etag"]))
        updated = await self.graph.call(
            "PATCH", f"me/events/{external_id}", json=patch, if_match=if_match, headers=TEXT
        )
        return WriteResult(external_id, str(updated["@odata.etag"]))

    async def delete(
        self,
        calendar_id: str,
        external_id: str,
        if_match: str | None,
        notify_guests: bool = False,
    ) -> None:
        """``notify_guests``: the organizer's ``cancel`` mails the attendees (a plain DELETE
        tells no one); only an organizer may, and only an unchanged event is cancelled."""
        try:
            if notify_guests:
                current = await self._get(external_id)
                if current is None:
                    return
                if if_match and current.get("@odata.etag") != if_match:
                    raise PreconditionFailed(f"{external_id} changed in Exchange")
                if current.get("isOrganizer") and current.get("attendees"):
                    await self.graph.call("POST", f"me/events/{external_id}/cancel", json={})
                    return
            await self.graph.call("DELETE", f"me/events/{external_id}", if_match=if_match)
        except Missing:
            return


# --- push (sync_core.ports.PushPort): Graph change notifications ------------------------------


class GraphPush:
    """A subscription to a calendar's events (``POST /subscriptions``). Graph chooses the
    subscription's id; ours travels in ``clientState`` with its token (``<channel>.<token>``),
    which Graph hands back in every notification. Outlook resources allow 4,230 minutes."""

    LIFETIME = timedelta(minutes=4200)

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    async def watch(
        self, calendar_id: str, channel_id: str, token: str, address: str
    ) -> tuple[str, datetime]:
        expires = datetime.now(UTC) + self.LIFETIME
        made = await self.graph.call(
            "POST",
            "subscriptions",
            json={
                "changeType": "created,updated,deleted",
                "notificationUrl": address,
                "resource": f"me/calendars/{calendar_id}/events",
                "expirationDateTime": expires.isoformat().replace("+00:00", "Z"),
                "clientState": f"{channel_id}.{token}",
            },
        )
        answered = datetime.fromisoformat(str(made["expirationDateTime"]).replace("Z", "+00:00"))
        return str(made["id"]), answered

    async def stop(self, channel_id: str, resource_id: str) -> None:
        try:
            await self.graph.call("DELETE", f"subscriptions/{resource_id}")
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
