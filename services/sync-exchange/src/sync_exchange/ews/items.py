"""EWS answers as the engine's ``ProviderItem``s, and the small judgements on them the calendar
makes: is a brief item inside the window, is an item the booking a first try made."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from exchangelib import CalendarItem

from sync_core.errors import UnreadableItem
from sync_core.items import ProviderItem
from sync_core.ports import OutboundEvent
from sync_core.views import time_view
from sync_core.window import SyncWindow
from sync_exchange.ews.mapping import crm_id_of, parse


def same_booking(item: CalendarItem, event: OutboundEvent) -> bool:
    try:
        fields = parse(item)
    except UnreadableItem:
        return False
    meeting = event.meeting
    return (fields.subject, time_view(fields.time)) == (meeting.subject, time_view(meeting.time))


def in_window(item: Any, window: SyncWindow) -> bool:
    """A brief item inside the window; one without times is kept, to be reported unreadable,
    and a recurring master's times are its first occurrence's: kept once it has begun."""
    if item.start is None or item.end is None:
        return True
    start, end = _instant(item.start), _instant(item.end)
    if not isinstance(item.end, datetime):
        end += timedelta(days=1)  # exchangelib gives an all-day item's last day, inclusive
    if getattr(item, "type", None) == "RecurringMaster":
        return start < window.end
    return start < window.end and end > window.start


def _instant(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return datetime.fromtimestamp(value.timestamp(), tz=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def provider_item(external_id: str, answer: Any) -> ProviderItem:
    if isinstance(answer, Exception):
        return ProviderItem(external_id, None, error=f"Exchange could not read the item: {answer}")
    tag, uid = answer.changekey, answer.uid
    try:
        fields = parse(answer)
    except UnreadableItem as error:
        return ProviderItem(external_id, tag, uid, error=str(error) or "unreadable item")
    return ProviderItem(external_id, tag, uid, crm_id_of(answer), fields)
