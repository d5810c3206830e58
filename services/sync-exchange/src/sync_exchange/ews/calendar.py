"""``sync_core.ports.CalendarPort`` for one mailbox on an Exchange Server through EWS. A calendar
id is an EWS ``FolderId``; an external id is an ``ItemId``; a version tag is the ``ChangeKey``.

Reading rests on ``SyncFolderItems`` ("Synchronizing items by using EWS"): a round from an
empty state names every item of the folder and ends with the state that later rounds start
from, so a full listing and its cursor come from the same round (nothing made meanwhile is
missed). Rounds ask for ids, change keys and times only; the items a listing needs are then read
in batches with ``GetItem``. A pass of changes makes at most a few ``SyncFolderItems`` calls and
hands back the state it reached (``changes``): a mass import arrives over several passes. A
series comes as its recurring master, with its exceptions as items of their own (``series``).

Writes are conditional on the change key: ``UpdateItem`` with ``NeverOverwrite`` fails with
``ErrorIrresolvableConflict`` when the item changed since it was read. A meeting Exchange will not
take (an occurrence moved past its neighbours, a subject over 255 characters, which exchangelib
refuses before sending) is ``ItemRefused``: recorded against that meeting, the rest syncs; any
other error would keep the change pending and fail every pass of the connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from exchangelib import CalendarItem
from exchangelib.errors import (
    ErrorInvalidSyncStateData,
    ErrorIrresolvableConflict,
    ErrorItemNotFound,
)
from exchangelib.folders import Calendar, Folder, Root
from exchangelib.items import (
    NEVER_OVERWRITE,
    SEND_TO_ALL_AND_SAVE_COPY,
    SEND_TO_CHANGED_AND_SAVE_COPY,
    SEND_TO_NONE,
)

from sync_core.errors import (
    AlreadyExists,
    CursorInvalid,
    PreconditionFailed,
)
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
from sync_exchange.ews.changes import PAGE, PAGES, folder_changes
from sync_exchange.ews.items import in_window, provider_item, same_booking
from sync_exchange.ews.mapping import changed_fields, render
from sync_exchange.ews.push import EwsPush
from sync_exchange.ews.reading import read_items
from sync_exchange.ews.refusals import refusing
from sync_exchange.ews.series import deleted_ids, exception_ids, find_occurrence, split
from sync_exchange.ews.session import Mailbox

STATE = "sync:"
BRIEF = ("changekey", "start", "end", "is_all_day", "type")


class EwsCalendar:
    def __init__(self, mailbox: Mailbox, pages: int = PAGES) -> None:
        self.mailbox = mailbox
        self.pages = pages
        """``SyncFolderItems`` calls one ``changes_since`` makes at most."""
        self.account = mailbox.account
        self._root = Root(account=self.account)
        self._any = Folder(root=self._root)
        """Given to ``fetch``, which otherwise asks Exchange for the root folder to make one."""

    # --- push (sync_core.ports.PushPort) ---------------------------------------------------------

    async def watch(
        self, calendar_id: str, channel_id: str, token: str, address: str
    ) -> tuple[str, datetime]:
        return await EwsPush(self.mailbox, self._folder).watch(
            calendar_id, channel_id, token, address
        )

    async def stop(self, channel_id: str, resource_id: str) -> None:
        await EwsPush(self.mailbox, self._folder).stop(channel_id, resource_id)

    # --- reading ------------------------------------------------------------------------------

    async def changes_since(self, calendar_id: str, cursor: str) -> ChangeBatch:
        """At most ``pages`` calls of ``PAGE`` changes (2,048 by default): after a mass import the
        cursor is Exchange's intermediate state, and the rest arrives over the next passes.
        ``ChangeBatch`` has no "more to fetch" flag, so the engine does not ask again at once:
        the next poll or push notification continues from that state, which is acceptable (the
        changes are late, never lost)."""
        if not cursor.startswith(STATE) or len(cursor) == len(STATE):
            raise CursorInvalid("not an EWS sync state")
        return await self.mailbox.run(lambda: self._changes(calendar_id, cursor[len(STATE) :]))

    def _changes(self, calendar_id: str, state: str) -> ChangeBatch:
        folder = self._folder(calendar_id)
        try:
            found = folder_changes(self.account, folder, state, self.pages)
        except ErrorInvalidSyncStateData as refused:
            raise CursorInvalid("Exchange no longer accepts this sync state") from refused
        answers = self._answers(found.changed)
        gone = [external_id for external_id in found.changed if external_id not in answers]
        for master_id, answer in answers.items():
            if not isinstance(answer, Exception):
                gone += deleted_ids(master_id, answer)  # an occurrence deleted in Outlook
        items = self._items(answers)
        return ChangeBatch(list(items.values()), found.deleted + gone, STATE + found.state)

    async def list_window(
        self, calendar_id: str, window: SyncWindow, known: Mapping[str, str | None]
    ) -> Listing:
        return await self.mailbox.run(lambda: self._listing(calendar_id, window, known))

    def _listing(
        self, calendar_id: str, window: SyncWindow, known: Mapping[str, str | None]
    ) -> Listing:
        folder = self._folder(calendar_id)
        inside = [
            item
            for kind, item in folder.sync_items(
                sync_state=None, only_fields=list(BRIEF), max_changes_returned=PAGE
            )
            if kind == "create" and in_window(item, window)
        ]
        unchanged = [i.id for i in inside if i.id in known and known[i.id] == i.changekey]
        fresh = self._read([i.id for i in inside if i.id not in unchanged])
        # A master's change key changes with any of its exceptions: theirs are unchanged too.
        same_series = set(unchanged)
        unchanged += [k for k in known if OCCURRENCE_SEPARATOR in k and series_of(k) in same_series]
        return Listing(list(fresh.values()), unchanged, STATE + folder.item_sync_state)

    async def fetch(self, calendar_id: str, external_id: str) -> ProviderItem | None:
        """An edited occurrence is read with its series (``<master id>#<original start>``)."""
        found = await self.mailbox.run(lambda: self._read([series_of(external_id)]))
        return found.get(external_id)

    def _read(self, external_ids: list[str]) -> dict[str, ProviderItem]:
        return self._items(self._answers(external_ids))

    def _answers(self, external_ids: list[str]) -> dict[str, Any]:
        """``GetItem`` in batches: each item, or the error Exchange gave for it; ids no longer
        there are left out."""
        if not external_ids:
            return {}
        read = read_items(self.account, self._any, external_ids)
        return {
            external_id: answer
            for external_id, answer in zip(external_ids, read, strict=True)
            if not isinstance(answer, ErrorItemNotFound)
        }

    def _items(self, answers: dict[str, Any]) -> dict[str, ProviderItem]:
        """Items as the engine sees them: a recurring master brings its exceptions."""
        items: dict[str, ProviderItem] = {}
        for external_id, answer in answers.items():
            items[external_id] = provider_item(external_id, answer)
            if not isinstance(answer, Exception):
                for occurrence, exception in exception_ids(
                    self.account, self._any, external_id, answer
                ).items():
                    items[occurrence] = provider_item(occurrence, exception)
        return items

    def _get(self, external_id: str) -> CalendarItem | None:
        (answer,) = list(self.account.fetch(ids=[(external_id, None)], folder=self._any))
        if isinstance(answer, ErrorItemNotFound):
            return None
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _folder(self, calendar_id: str) -> Calendar:
        """The folder by its id, without asking Exchange for the mailbox's root folder first
        (``account.root`` would cost a ``GetFolder`` every pass)."""
        return Calendar(root=self._root, id=calendar_id)

    # --- writing ------------------------------------------------------------------------------

    async def create(self, calendar_id: str, event: OutboundEvent) -> WriteResult:
        return await self.mailbox.run(lambda: refusing(lambda: self._create(calendar_id, event)))

    def _create(self, calendar_id: str, event: OutboundEvent) -> WriteResult:
        """EWS chooses item ids, so a retried create is recognised by our meeting id in the
        item's extended property (``FindItem`` with a restriction on it): the item a first try
        made is this write's result when it still has the subject and time we send; one edited
        since is reported as AlreadyExists, and the engine fetches and merges it."""
        meeting = event.meeting
        folder = self._folder(calendar_id)
        earlier = list(folder.filter(crm_meeting_id=str(meeting.id)).only("id", "changekey"))
        if earlier:
            first = self._get(earlier[0].id)
            if first is None or not same_booking(first, event):
                raise AlreadyExists(earlier[0].id)
            return WriteResult(first.id, first.changekey)
        item = CalendarItem(
            account=self.account,
            folder=folder,
            uid=meeting.ical_uid,
            crm_meeting_id=str(meeting.id),
            **render(event),
        )
        item.save(send_meeting_invitations=_invitations(event, SEND_TO_ALL_AND_SAVE_COPY))
        return WriteResult(item.id, item.changekey)

    async def update(
        self, calendar_id: str, external_id: str, event: OutboundEvent, if_match: str | None
    ) -> WriteResult:
        return await self.mailbox.run(
            lambda: refusing(lambda: self._update(calendar_id, external_id, event, if_match))
        )

    def _update(
        self, calendar_id: str, external_id: str, event: OutboundEvent, if_match: str | None
    ) -> WriteResult:
        """Only what changed is written (see ``changed_fields``), under the change key read."""
        current = self._current(calendar_id, external_id, if_match)
        if current is None:
            raise PreconditionFailed(f"{external_id} is gone")
        changes = changed_fields(render(event), current)
        if not changes:
            return WriteResult(external_id, current.changekey)
        for name, value in changes.items():
            setattr(current, name, value)
        try:
            current.save(
                update_fields=list(changes),
                conflict_resolution=NEVER_OVERWRITE,
                send_meeting_invitations=_invitations(event, SEND_TO_CHANGED_AND_SAVE_COPY),
            )
        except ErrorIrresolvableConflict as conflict:
            raise PreconditionFailed(f"{external_id} changed in Exchange") from conflict
        return WriteResult(external_id, current.changekey)

    def _current(self, calendar_id: str, external_id: str, if_match: str | None) -> Any | None:
        """The item (or occurrence) as it is, if it is still the version ``if_match`` names.
        An occurrence's first edit names its series' change key, a later one its own."""
        if OCCURRENCE_SEPARATOR not in external_id:
            current = self._get(external_id)
            if current is not None and if_match and current.changekey != if_match:
                raise PreconditionFailed(f"{external_id} changed in Exchange")
            return current
        master_id, key = split(external_id)
        master = self._get(master_id)
        if master is None:
            return None
        occurrence = find_occurrence(self.account, self._folder(calendar_id), master, key)
        if occurrence is None or occurrence.type != "Exception" or not if_match:
            return occurrence
        if if_match not in (occurrence.changekey, master.changekey):
            raise PreconditionFailed(f"{external_id} changed in Exchange")
        return occurrence

    async def delete(
        self,
        calendar_id: str,
        external_id: str,
        if_match: str | None,
        notify_guests: bool = False,
    ) -> None:
        await self.mailbox.run(
            lambda: refusing(
                lambda: self._delete(calendar_id, external_id, if_match, notify_guests)
            )
        )

    def _delete(
        self, calendar_id: str, external_id: str, if_match: str | None, notify_guests: bool
    ) -> None:
        """Moved to Deleted Items, where the user can still restore it (an occurrence becomes
        one of its series' deleted occurrences). ``notify_guests``: Exchange mails the
        cancellation, which only an organizer's copy sends."""
        current = self._current(calendar_id, external_id, if_match)
        if current is None:
            return
        organised = current.my_response_type in (None, "Organizer")
        cancel = notify_guests and organised and bool(current.required_attendees)
        try:
            current.move_to_trash(
                send_meeting_cancellations=SEND_TO_ALL_AND_SAVE_COPY if cancel else SEND_TO_NONE
            )
        except ErrorItemNotFound:
            return


def _invitations(event: OutboundEvent, exchange_sends: str) -> str:
    """Never both: Exchange mails only when our notifier does not (Cal.com #7735)."""
    return SEND_TO_NONE if event.notifier_sends_invitations else exchange_sends
