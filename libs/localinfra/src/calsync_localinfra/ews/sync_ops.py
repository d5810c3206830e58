"""SyncFolderItems ("SyncFolderItems operation"): the changes to a folder's items since a sync
state, at most MaxChangesReturned at a time, IncludesLastItemInRange false while more remain.

A state records which items the client has seen and which write of each. From it: an item it
never saw is a Create, one changed since an Update, one gone from the folder (deleted or moved
away) a Delete carrying only the ItemId. An item created and deleted between two states was
never seen, so nothing is reported for it. An empty state means from the beginning; a state
this server never issued (or issued for another folder) is ErrorInvalidSyncStateData.
"""

from __future__ import annotations

from calsync_localinfra.ews.properties import Shape, parse_shape
from calsync_localinfra.ews.soap import (
    Element,
    EwsError,
    child,
    m,
    malformed,
    response_message,
    t,
    text_of,
)
from calsync_localinfra.ews.store import Item, SyncSnapshot
from calsync_localinfra.ews.views import Call, render_item, resolve_folder

MAX_CHANGES = 512  # MaxChangesReturned's upper bound in the schema


def sync_folder_items(call: Call, op: Element) -> list[Element]:
    shape = parse_shape(child(op, "m", "ItemShape"))
    folder_ids = child(op, "m", "SyncFolderId")
    if folder_ids is None or len(folder_ids) != 1:
        raise malformed("SyncFolderItems needs one SyncFolderId")
    limit = _max_changes(text_of(op, "m", "MaxChangesReturned"))
    ignore = child(op, "m", "Ignore")
    ignored = {i.get("Id") for i in ignore} if ignore is not None else set()
    try:
        folder = resolve_folder(call, folder_ids[0])
        snapshot = call.state.snapshot(folder, text_of(op, "m", "SyncState"))
    except EwsError as error:
        tail = [m("SyncState"), m("IncludesLastItemInRange", "true")]
        return [response_message("SyncFolderItems", error, tail)]
    current = {i.id: i for i in call.state.items_in(folder)}
    pending = _pending(snapshot, current)
    changes = m("Changes")
    for kind, item_id in pending[:limit]:
        if item_id not in ignored:
            changes.append(_change(call, kind, item_id, current, shape))
        _record(snapshot, kind, item_id, current)
    done = "true" if len(pending) <= limit else "false"
    state = m("SyncState", call.state.issue_sync_state(snapshot))
    children = [state, m("IncludesLastItemInRange", done), changes]
    return [response_message("SyncFolderItems", children=children)]


def _max_changes(text: str | None) -> int:
    try:
        limit = int(text or "")
    except ValueError:
        raise malformed("MaxChangesReturned is required (1-512)") from None
    if not 1 <= limit <= MAX_CHANGES:
        raise malformed("MaxChangesReturned must be between 1 and 512")
    return limit


def _pending(snapshot: SyncSnapshot, current: dict[str, Item]) -> list[tuple[str, str]]:
    by_write = sorted(current.values(), key=lambda i: i.version)
    pending = [
        ("Create" if i.id not in snapshot.known else "Update", i.id)
        for i in by_write
        if snapshot.known.get(i.id) != i.version
    ]
    pending += [("Delete", i) for i in snapshot.known if i not in current]
    return pending


def _change(call: Call, kind: str, item_id: str, current: dict[str, Item], shape: Shape) -> Element:
    elem = t(kind)
    if kind == "Delete":
        elem.append(t("ItemId", Id=item_id))
    else:
        elem.append(render_item(call.state, current[item_id], shape, find=True))
    return elem


def _record(snapshot: SyncSnapshot, kind: str, item_id: str, current: dict[str, Item]) -> None:
    if kind == "Delete":
        snapshot.known.pop(item_id, None)
    else:
        snapshot.known[item_id] = current[item_id].version
