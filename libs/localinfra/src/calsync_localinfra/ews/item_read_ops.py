"""GetItem and FindItem ("GetItem operation", "FindItem operation"): items by id (an item's,
an occurrence's, an OccurrenceItemId or a RecurringMasterItemId), with a per-item error, and
items of a folder matching a Restriction, paged by an IndexedPageItemView or bounded by a
CalendarView. Only a CalendarView expands recurring series: it answers single items,
occurrences and exceptions, never masters; without one, a series is its master ("CalendarView",
"Recurrence patterns and EWS", expanded vs. non-expanded views)."""

from __future__ import annotations

import datetime as dt

from calsync_localinfra.ews.folder_ops import paged
from calsync_localinfra.ews.properties import parse_shape, path_key, value_text
from calsync_localinfra.ews.restrictions import matches
from calsync_localinfra.ews.series import expand, instant, occurrence, resolve, time_span
from calsync_localinfra.ews.soap import Element, EwsError, child, local, m, malformed, t
from calsync_localinfra.ews.soap import response_message as message
from calsync_localinfra.ews.store import Item
from calsync_localinfra.ews.views import Call, render_item, resolve_folder

ID_ELEMENTS = {"ItemId", "OccurrenceItemId", "RecurringMasterItemId"}


def item_ids(op: Element, name: str = "ItemIds") -> list[Element]:
    ids = child(op, "m", name)
    if ids is None or not len(ids):
        raise malformed(f"the request needs {name}")
    for item_id in ids:
        if local(item_id.tag) not in ID_ELEMENTS:
            raise malformed(f"{local(item_id.tag)} is not an item id this stand-in knows")
    return list(ids)


def get_item(call: Call, op: Element) -> list[Element]:
    shape = parse_shape(child(op, "m", "ItemShape"))
    messages = []
    for item_id in item_ids(op):
        items = m("Items")
        try:
            target = resolve(call.state, call.mailbox, item_id)
            found = target.item
            if target.index is not None:
                found = occurrence(found, target.index)
            items.append(render_item(call.state, found, shape))
        except EwsError as error:
            messages.append(message("GetItem", error, [items]))
            continue
        messages.append(message("GetItem", children=[items]))
    return messages


def find_item(call: Call, op: Element) -> list[Element]:
    if op.get("Traversal") != "Shallow":
        raise malformed(f"FindItem Traversal {op.get('Traversal')!r} is not supported here")
    if child(op, "m", "QueryString") is not None or child(op, "m", "GroupBy") is not None:
        raise malformed("FindItem QueryString and grouping are not supported by this stand-in")
    shape = parse_shape(child(op, "m", "ItemShape"))
    parents = child(op, "m", "ParentFolderIds")
    if parents is None or not len(parents):
        raise malformed("FindItem needs ParentFolderIds")
    messages = []
    for parent in parents:
        try:
            found = _matching(call, op, resolve_folder(call, parent).id)
        except EwsError as error:
            messages.append(message("FindItem", error))
            continue
        page, root = _view(op, found)
        items = t("Items")
        items.extend(render_item(call.state, i, shape, find=True) for i in page)
        root.append(items)
        messages.append(message("FindItem", children=[root]))
    return messages


def _matching(call: Call, op: Element, folder_id: str) -> list[Item]:
    found = [i for i in call.state.items.values() if i.folder_id == folder_id]
    restriction = child(op, "m", "Restriction")
    if restriction is not None:
        if len(restriction) != 1:
            raise malformed("a Restriction holds exactly one expression")
        found = [i for i in found if matches(restriction[0], i)]
    sort = child(op, "m", "SortOrder")
    for order in reversed(list(sort) if sort is not None else []):
        key = path_key(order[0])
        found.sort(key=lambda i: value_text(i.props.get(key)) or "")
        if order.get("Order") == "Descending":
            found.reverse()
    return found


def _view(op: Element, found: list[Item]) -> tuple[list[Item], Element]:
    calendar = child(op, "m", "CalendarView")
    if calendar is None:
        return paged(found, child(op, "m", "IndexedPageItemView"))
    start, end = calendar.get("StartDate") or "", calendar.get("EndDate") or ""
    if not start or not end:
        raise malformed("CalendarView needs StartDate and EndDate")
    within = _expanded(found, instant(start), instant(end))
    limit = int(calendar.get("MaxEntriesReturned") or len(within))
    page = within[:limit]
    root = m(
        "RootFolder",
        TotalItemsInView=str(len(within)),
        IncludesLastItemInRange="true" if len(page) == len(within) else "false",
    )
    return page, root


def _expanded(found: list[Item], start: dt.datetime, end: dt.datetime) -> list[Item]:
    """Single items, occurrences and exceptions overlapping [start, end), by start."""
    within: list[tuple[dt.datetime, Item]] = []
    for item in found:
        if "Recurrence" in item.props:
            within += [(_start(i), i) for i in expand(item, start, end)]
            continue
        span = time_span(item)
        if span is not None and span[0] < end and span[1] > start:
            within.append((span[0], item))
    within.sort(key=lambda pair: pair[0])
    return [item for _, item in within]


def _start(item: Item) -> dt.datetime:
    span = time_span(item)
    if span is None:
        raise ValueError("an occurrence always has Start and End")
    return span[0]
