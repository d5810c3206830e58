"""The state behind the EWS stand-in: accounts (a login and a password; mailboxes and service
accounts), the ApplicationImpersonation grants, each mailbox's folders (root, Top of Information
Store, Calendar, Deleted Items, and calendars added under Calendar), their items, and the sync
states this server issued.

An item keeps the XML elements the client sent, keyed by property (the element's local name, or
the extended property's set, name and type), so answers give back exactly what was stored, and
each property remembers the write that last changed it: UpdateItem's AutoResolve needs to know
whether *this* property changed since the client's ChangeKey ("UpdateItem operation",
ConflictResolution). Every write draws a new number from one counter and a new ChangeKey.

Ids, ChangeKeys and sync states are opaque base64, as at Exchange; sync states are remembered
here (a real server packs them into the blob), so only states this server issued are accepted.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from calsync_localinfra.ews.events import MailboxEvents, Ref
from calsync_localinfra.ews.soap import Element, EwsError, SoapFault

CALENDAR_CLASS = "IPF.Appointment"


@dataclass
class Account:
    login: str
    password: str
    has_mailbox: bool
    may_impersonate: set[str] = field(default_factory=set)
    """Mailboxes this account holds the ApplicationImpersonation role over."""


@dataclass
class Folder:
    id: str
    mailbox: str
    name: str
    kind: str
    """The element: ``Folder`` or ``CalendarFolder``."""
    folder_class: str | None
    parent_id: str | None
    distinguished: str | None = None
    changekey: str = field(default_factory=lambda: opaque(b"\x01\x00\x00\x00", 16))


@dataclass
class Item:
    id: str
    mailbox: str
    folder_id: str
    kind: str
    """The element: ``CalendarItem``."""
    props: dict[str, Element]
    version: int = 0
    changekey: str = ""
    versions_by_changekey: dict[str, int] = field(default_factory=dict)
    prop_versions: dict[str, int] = field(default_factory=dict)
    exceptions: dict[int, Item] = field(default_factory=dict)
    """A recurring master's exceptions by instance index; they are no items of the folder."""
    deleted: set[int] = field(default_factory=set)
    """A recurring master's deleted instance indexes."""


@dataclass
class SyncSnapshot:
    """What a client holding a sync state has seen: item id → the write it saw."""

    folder_id: str
    known: dict[str, int]


@dataclass
class Throttle:
    count: int
    back_off_ms: int


def opaque(prefix: bytes, size: int) -> str:
    return base64.b64encode(prefix + secrets.token_bytes(size)).decode()


def now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ExchangeState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.folders: dict[str, Folder] = {}
        self.items: dict[str, Item] = {}
        self.sync_states: dict[str, SyncSnapshot] = {}
        self.throttles: dict[str, Throttle] = {}
        self.mailed: list[dict[str, str]] = []
        self.events = MailboxEvents()
        self.requests = 0
        self.counter = 0

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self.lock:
            yield

    # --- accounts (set up by the operator) ------------------------------------------------------

    def add_account(self, email: str, password: str) -> Folder:
        """A mailbox with its folder tree; answers its Calendar."""
        with self.lock:
            key = email.lower()
            account = self.accounts.setdefault(key, Account(email, password, True))
            account.password, account.has_mailbox = password, True
            if self.find_distinguished(key, "root") is None:
                self._make_tree(key)
            return self.distinguished(key, "calendar")

    def add_service_account(self, login: str, password: str) -> None:
        with self.lock:
            self.accounts.setdefault(login.lower(), Account(login, password, False))
            self.accounts[login.lower()].password = password

    def grant_impersonation(self, login: str, mailbox: str) -> None:
        with self.lock:
            self.account(login).may_impersonate.add(mailbox.lower())

    def set_password(self, login: str, password: str) -> None:
        with self.lock:
            self.account(login).password = password

    def account(self, login: str) -> Account:
        found = self.accounts.get(login.lower())
        if found is None:
            raise KeyError(f"no account {login!r}")
        return found

    def add_calendar(self, email: str, name: str, parent_id: str | None = None) -> Folder:
        with self.lock:
            parent = self.folders[parent_id] if parent_id else self.distinguished(email, "calendar")
            return self._add_folder(parent.mailbox, name, "CalendarFolder", CALENDAR_CLASS, parent)

    def _make_tree(self, mailbox: str) -> None:
        root = self._add_folder(mailbox, "", "Folder", None, None, "root")
        top = self._add_folder(mailbox, "Top of Information Store", "Folder", None, root)
        top.distinguished = "msgfolderroot"
        calendar = self._add_folder(mailbox, "Calendar", "CalendarFolder", CALENDAR_CLASS, top)
        calendar.distinguished = "calendar"
        trash = self._add_folder(mailbox, "Deleted Items", "Folder", "IPF.Note", top)
        trash.distinguished = "deleteditems"

    def _add_folder(
        self,
        mailbox: str,
        name: str,
        kind: str,
        folder_class: str | None,
        parent: Folder | None,
        distinguished: str | None = None,
    ) -> Folder:
        folder_id = opaque(b"\x00\x00\x00\x00\x01\x00", 40)
        parent_id = None if parent is None else parent.id
        folder = Folder(folder_id, mailbox, name, kind, folder_class, parent_id, distinguished)
        self.folders[folder_id] = folder
        return folder

    # --- who acts (HTTP Basic, ExchangeImpersonation) ------------------------------------------

    def authenticate(self, login: str, password: str) -> Account | None:
        found = self.accounts.get(login.lower())
        if found is None or not secrets.compare_digest(found.password, password):
            return None
        return found

    def acting_mailbox(self, caller: Account, impersonated: str | None) -> str:
        """The mailbox a request acts on ("Impersonation and EWS in Exchange"): the one named in
        ExchangeImpersonation when the caller holds the role over it, else the caller's own."""
        if impersonated is None:
            return caller.login.lower()
        target = self.accounts.get(impersonated.lower())
        if target is None or not target.has_mailbox:
            raise SoapFault(
                "ErrorNonExistentMailbox",
                f"The SMTP address has no mailbox associated with it: {impersonated}",
            )
        if target.login.lower() not in caller.may_impersonate:
            raise SoapFault(
                "ErrorImpersonateUserDenied",
                "The account does not have permission to impersonate the requested user.",
            )
        return target.login.lower()

    def check_throttle(self, mailbox: str) -> None:
        """A failure injected by the operator: ErrorServerBusy with BackOffMilliseconds, as
        EWS throttling answers ("EWS throttling in Exchange")."""
        throttle = self.throttles.get(mailbox)
        if throttle is None or throttle.count <= 0:
            return
        throttle.count -= 1
        raise SoapFault(
            "ErrorServerBusy",
            "The server cannot service this request right now. Try again later.",
            {"BackOffMilliseconds": str(throttle.back_off_ms)},
        )

    # --- folders --------------------------------------------------------------------------------

    def find_distinguished(self, mailbox: str, name: str) -> Folder | None:
        for folder in self.folders.values():
            if folder.mailbox == mailbox and folder.distinguished == name:
                return folder
        return None

    def distinguished(self, mailbox: str, name: str) -> Folder:
        found = self.find_distinguished(mailbox.lower(), name)
        if found is None:
            raise KeyError(f"no {name} folder for {mailbox!r}")
        return found

    def folder(self, mailbox: str, folder_id: str) -> Folder:
        found = self.folders.get(folder_id)
        if found is None:
            raise EwsError(
                "ErrorFolderNotFound", "The specified folder could not be found in the store."
            )
        if found.mailbox != mailbox:
            raise EwsError(
                "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        return found

    def children(self, folder: Folder, deep: bool) -> list[Folder]:
        found = [f for f in self.folders.values() if f.parent_id == folder.id]
        if deep:
            found += [g for f in list(found) for g in self.children(f, deep=True)]
        return found

    def items_in(self, folder: Folder) -> list[Item]:
        return [i for i in self.items.values() if i.folder_id == folder.id]

    # --- items ----------------------------------------------------------------------------------

    def item(self, mailbox: str, item_id: str) -> Item:
        found = self.items.get(item_id)
        if found is None:
            raise EwsError("ErrorItemNotFound", "The specified object was not found in the store.")
        if found.mailbox != mailbox:
            raise EwsError(
                "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        return found

    def new_item(self, folder: Folder, kind: str, props: dict[str, Element]) -> Item:
        item = Item(opaque(b"\x00\x03\x24\x00", 60), folder.mailbox, folder.id, kind, props)
        self.items[item.id] = item
        self._stamp(item, list(props))
        self._record("CreatedEvent", item)
        return item

    def touch(self, item: Item, changed: list[str]) -> None:
        """A write: a new number, a new ChangeKey, the changed properties marked, and for an
        item of a folder (not an occurrence's exception) a ModifiedEvent."""
        self._stamp(item, changed)
        if self.items.get(item.id) is item:
            self._record("ModifiedEvent", item)

    def _stamp(self, item: Item, changed: list[str]) -> None:
        self.counter += 1
        item.version = self.counter
        item.changekey = opaque(b"\x0f\x00\x00\x00\x16\x00\x00\x00", 22)
        item.versions_by_changekey[item.changekey] = item.version
        for key in changed:
            item.prop_versions[key] = item.version

    def remove_item(self, item: Item) -> None:
        del self.items[item.id]
        self._record("DeletedEvent", item)

    def move_item(self, item: Item, folder: Folder) -> None:
        """A move gives the item a new id at Exchange; the old one is gone."""
        before = self._refs(item)
        del self.items[item.id]
        item.id = opaque(b"\x00\x03\x24\x00", 60)
        item.folder_id = folder.id
        self.items[item.id] = item
        self._stamp(item, [])
        self._record("MovedEvent", item, before)

    def _refs(self, item: Item) -> tuple[Ref, Ref]:
        folder = self.folders[item.folder_id]
        return Ref(item.id, item.changekey), Ref(folder.id, folder.changekey)

    def _record(self, kind: str, item: Item, moved_from: tuple[Ref, Ref] | None = None) -> None:
        self.events.record(kind, item.mailbox, *self._refs(item), moved_from)

    # --- sync states ----------------------------------------------------------------------------

    def issue_sync_state(self, snapshot: SyncSnapshot) -> str:
        token = opaque(b"\x1f\x8b\x08\x00", 44)
        self.sync_states[token] = snapshot
        return token

    def snapshot(self, folder: Folder, token: str | None) -> SyncSnapshot:
        if not token:
            return SyncSnapshot(folder.id, {})
        found = self.sync_states.get(token)
        if found is None or found.folder_id != folder.id:
            raise EwsError(
                "ErrorInvalidSyncStateData",
                "Synchronization state data is corrupt or otherwise invalid.",
            )
        return SyncSnapshot(folder.id, dict(found.known))
