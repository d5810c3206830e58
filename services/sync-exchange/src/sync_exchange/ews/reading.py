"""``GetItem`` that one item cannot fail for all. exchangelib hands back some per-item errors
(ErrorItemNotFound, ErrorItemCorrupt, …) in place of the item, but raises others for the whole
batch (ErrorInternalServerError on a damaged item, a value it cannot parse): that batch is then
read one item at a time, and the item that still fails is answered by its error, which the
adapter reports as that item's (one bad item never stops a calendar's sync, Odoo #109358).
Throttling and refused logins are the mailbox's, not an item's: they are raised."""

from __future__ import annotations

from typing import Any

from exchangelib import Account
from exchangelib.errors import ResponseMessageError
from exchangelib.folders import Folder

from sync_exchange.ews.session import REFUSED, TEMPORARY

BATCH = 100
"""Ids per ``GetItem`` (exchangelib's own chunk size)."""
ITEM_FAILURES = (ResponseMessageError, ValueError, TypeError)


def read_items(account: Account, folder: Folder, ids: list[str]) -> list[Any]:
    """Each id's item, or the error Exchange (or exchangelib reading it) gave for it."""
    answers: list[Any] = []
    for chunk in (ids[at : at + BATCH] for at in range(0, len(ids), BATCH)):
        try:
            answers += _fetch(account, folder, chunk)
        except TEMPORARY + REFUSED:
            raise
        except ITEM_FAILURES:
            answers += [_one(account, folder, i) for i in chunk]
    return answers


def _one(account: Account, folder: Folder, item_id: str) -> Any:
    try:
        (answer,) = _fetch(account, folder, [item_id])
    except TEMPORARY + REFUSED:
        raise
    except ITEM_FAILURES as failure:
        return failure
    return answer


def _fetch(account: Account, folder: Folder, ids: list[str]) -> list[Any]:
    return list(account.fetch(ids=[(i, None) for i in ids], folder=folder))
