"""A folder's changes since an EWS sync state, a bounded number of ``SyncFolderItems`` calls at a
time.

exchangelib's ``Folder.sync_items`` calls ``SyncFolderItems`` until ``IncludesLastItemInRange``
and gives only the last state: after a mass import in Outlook (50,000 items) one pass would hold
every change and then read every item. Each response's ``SyncState`` already records what the
client has been given ("SyncFolderItems": "updated after each successful request"; "Synchronize
items by using EWS in Exchange" loops the calls, each with the state the previous one returned).
So a pass stops once ``PAGES`` calls' worth of created or updated items are named, and returns
that intermediate state: the next pass goes on from it, and nothing is named twice or skipped.
Deletions cost only their ids and never stop a pass: a mass delete arrives whole, where the
engine checks it against a full listing before deleting anything in the CRM.
"""

from __future__ import annotations

from dataclasses import dataclass

from exchangelib import Account
from exchangelib.folders import Folder
from exchangelib.items import ID_ONLY
from exchangelib.services import SyncFolderItems

PAGE = 512
"""``MaxChangesReturned`` per ``SyncFolderItems`` call (EWS allows 1 to 512)."""
PAGES = 4
"""Pages of created or updated items per pass: at most 2,048 read with ``GetItem`` at once."""
WRITTEN = (SyncFolderItems.CREATE, SyncFolderItems.UPDATE)


@dataclass(frozen=True, slots=True)
class Changes:
    changed: list[str]
    """Ids created or updated, each once, in the order Exchange named them."""
    deleted: list[str]
    """Ids gone from the folder (deleted or moved away), each once."""
    state: str
    """The state after the last call made: the next pass starts from it."""
    complete: bool
    """Exchange said the last change was included (``IncludesLastItemInRange``)."""


def folder_changes(
    account: Account, folder: Folder, state: str, pages: int = PAGES, page: int = PAGE
) -> Changes:
    """Ids only (``IdOnly`` shape): the items are read afterwards, with ``GetItem``. An item's
    last word wins across the calls: created on one page and deleted on a later one, it is
    deleted. ``ErrorInvalidSyncStateData`` (a state Exchange no longer accepts) is raised."""
    service = SyncFolderItems(account=account)
    changed: dict[str, None] = {}
    deleted: dict[str, None] = {}
    complete = False
    while len(changed) < pages * page:
        for kind, item in service.call(
            folder=folder,
            shape=ID_ONLY,
            additional_fields=set(),
            sync_state=state,
            ignore=None,
            max_changes_returned=page,
            sync_scope=None,
        ):
            if kind in WRITTEN:
                deleted.pop(item.id, None)
                changed[item.id] = None
            elif kind == SyncFolderItems.DELETE:
                changed.pop(item.id, None)
                deleted[item.id] = None
        # The same state back though more remains would repeat forever (exchangelib stops too).
        stuck = service.sync_state == state
        state = service.sync_state
        complete = bool(service.includes_last_item_in_range)
        if complete or stuck:
            break
    return Changes(list(changed), list(deleted), state, complete)
