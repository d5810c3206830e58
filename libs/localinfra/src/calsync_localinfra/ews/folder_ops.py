"""GetFolder and FindFolder ("GetFolder operation", "FindFolder operation"), and the indexed
paging both Find operations share ("IndexedPageFolderView", "IndexedPageItemView")."""

from __future__ import annotations

from typing import TypeVar

from calsync_localinfra.ews.properties import parse_shape
from calsync_localinfra.ews.soap import Element, EwsError, child, m, malformed, response_message, t
from calsync_localinfra.ews.views import Call, render_folder, resolve_folder

T = TypeVar("T")


def get_folder(call: Call, op: Element) -> list[Element]:
    shape = parse_shape(child(op, "m", "FolderShape"))
    ids = child(op, "m", "FolderIds")
    if ids is None or not len(ids):
        raise malformed("GetFolder needs FolderIds")
    messages = []
    for folder_id in ids:
        try:
            folder = resolve_folder(call, folder_id)
        except EwsError as error:
            messages.append(response_message("GetFolder", error))
            continue
        folders = m("Folders")
        folders.append(render_folder(call, folder, shape))
        messages.append(response_message("GetFolder", children=[folders]))
    return messages


def find_folder(call: Call, op: Element) -> list[Element]:
    traversal = op.get("Traversal")
    if traversal not in {"Shallow", "Deep"}:
        raise malformed(f"FindFolder Traversal {traversal!r} is not supported here")
    if child(op, "m", "Restriction") is not None:
        raise malformed("FindFolder restrictions are not supported by this stand-in")
    shape = parse_shape(child(op, "m", "FolderShape"))
    parents = child(op, "m", "ParentFolderIds")
    if parents is None or not len(parents):
        raise malformed("FindFolder needs ParentFolderIds")
    messages = []
    for parent_id in parents:
        try:
            parent = resolve_folder(call, parent_id)
        except EwsError as error:
            messages.append(response_message("FindFolder", error))
            continue
        found = call.state.children(parent, deep=traversal == "Deep")
        page, root = paged(found, child(op, "m", "IndexedPageFolderView"))
        folders = t("Folders")
        folders.extend(render_folder(call, f, shape) for f in page)
        root.append(folders)
        messages.append(response_message("FindFolder", children=[root]))
    return messages


def paged(entries: list[T], view: Element | None) -> tuple[list[T], Element]:
    """One page and its ``m:RootFolder`` (IndexedPagingOffset, TotalItemsInView,
    IncludesLastItemInRange); no view means everything."""
    total = len(entries)
    size, offset = total, 0
    if view is not None:
        try:
            size = int(view.get("MaxEntriesReturned") or total)
            offset = int(view.get("Offset") or 0)
        except ValueError:
            raise malformed("MaxEntriesReturned and Offset must be integers") from None
        if view.get("BasePoint") == "End":
            offset = max(total - offset - size, 0)
    page = entries[offset : offset + size]
    next_offset = offset + len(page)
    root = m(
        "RootFolder",
        IndexedPagingOffset=str(next_offset),
        TotalItemsInView=str(total),
        IncludesLastItemInRange="true" if next_offset >= total else "false",
    )
    return page, root
