"""The mailbox events table behind push subscriptions ("Notification subscriptions, mailbox
events, and EWS in Exchange"; [MS-OXWSNTIF]): every write to an item appends an event with its
own watermark, a bookmark in the table, and a push subscription remembers how far it was
delivered (the watermark its next notification carries as PreviousWatermark).

Events are those of the folders' items (single items and recurring masters): an occurrence or
exception changed or deleted is its master modified, as SyncFolderItems reports it too. Moving an
item is a MovedEvent with its new ItemId and parent and its old ones (OldItemId,
OldParentFolderId); a subscription hears it from either folder. CopiedEvent, NewMailEvent and
FreeBusyChangedEvent may be subscribed to but never happen here (no CopyItem, no mail, no
free/busy store).

Watermarks are opaque base64, remembered here as sync states are, so a Subscribe with a
watermark this server never issued for the mailbox is ErrorInvalidWatermark.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from calsync_localinfra.ews.soap import EwsError

EVENT_TYPES = frozenset(
    {
        "CopiedEvent",
        "CreatedEvent",
        "DeletedEvent",
        "ModifiedEvent",
        "MovedEvent",
        "NewMailEvent",
        "FreeBusyChangedEvent",
    }
)


def _token(prefix: bytes, size: int) -> str:
    return base64.b64encode(prefix + secrets.token_bytes(size)).decode()


@dataclass(frozen=True)
class Ref:
    """An ItemId or a FolderId as it was when the event happened."""

    id: str
    changekey: str


@dataclass(frozen=True)
class MailboxEvent:
    number: int
    """Its place in the table (1, 2, ...): ``events[number - 1]``."""
    kind: str
    """The element: ``CreatedEvent``, ``ModifiedEvent``, ``DeletedEvent`` or ``MovedEvent``."""
    mailbox: str
    timestamp: str
    item: Ref
    parent: Ref
    moved_from: tuple[Ref, Ref] | None = None
    """A move's OldItemId and OldParentFolderId."""

    def in_folders(self, folder_ids: frozenset[str] | None) -> bool:
        if folder_ids is None:
            return True
        parents = {self.parent.id}
        if self.moved_from is not None:
            parents.add(self.moved_from[1].id)
        return bool(parents & folder_ids)


@dataclass
class PushSubscription:
    id: str
    mailbox: str
    folder_ids: frozenset[str] | None
    """None: every folder of the mailbox (SubscribeToAllFolders)."""
    event_types: frozenset[str]
    url: str
    status_frequency: int
    """Minutes without events after which a StatusEvent is sent."""
    position: int
    """The number of the last event delivered (or passed over as not wanted)."""
    alive: bool = True
    ended: str | None = None
    """Why it ended: ``Unsubscribe`` (the client's answer) or ``unreachable``."""

    def wants(self, event: MailboxEvent) -> bool:
        return (
            event.mailbox == self.mailbox
            and event.kind in self.event_types
            and event.in_folders(self.folder_ids)
        )


@dataclass(frozen=True)
class Outgoing:
    """One notification to send, every watermark resolved."""

    subscription_id: str
    url: str
    previous_watermark: str
    events: list[tuple[MailboxEvent, str]]
    """The events with their watermarks; empty for a status notification."""
    status_watermark: str
    more: bool
    position: int
    """Where the subscription stands once the client answered OK."""


class MailboxEvents:
    """The events of every mailbox in one table (numbers are shared, watermarks per mailbox),
    and the push subscriptions reading it. Callers hold the state's lock."""

    def __init__(self) -> None:
        self.events: list[MailboxEvent] = []
        self.subscriptions: dict[str, PushSubscription] = {}
        self.listeners: list[Callable[[], None]] = []
        """Called after every event and new subscription (the notifier's wake-up)."""
        self._watermarks: dict[str, tuple[str, int]] = {}
        self._issued: dict[tuple[str, int], str] = {}

    @property
    def latest(self) -> int:
        return len(self.events)

    def record(
        self,
        kind: str,
        mailbox: str,
        item: Ref,
        parent: Ref,
        moved_from: tuple[Ref, Ref] | None = None,
    ) -> None:
        timestamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        number = self.latest + 1
        self.events.append(MailboxEvent(number, kind, mailbox, timestamp, item, parent, moved_from))
        self._wake()

    def watermark(self, mailbox: str, number: int) -> str:
        """The bookmark after event ``number`` in ``mailbox``'s view of the table."""
        key = (mailbox, number)
        found = self._issued.get(key)
        if found is None:
            found = self._issued[key] = _token(b"\x01\x00\x00\x00", 20)
            self._watermarks[found] = key
        return found

    def position(self, mailbox: str, watermark: str) -> int:
        found = self._watermarks.get(watermark)
        if found is None or found[0] != mailbox:
            raise EwsError(
                "ErrorInvalidWatermark",
                "The watermark used for creating this subscription was not found.",
            )
        return found[1]

    def subscribe(
        self,
        mailbox: str,
        folder_ids: frozenset[str] | None,
        event_types: frozenset[str],
        url: str,
        status_frequency: int,
        watermark: str | None = None,
    ) -> tuple[PushSubscription, str]:
        """A push subscription from ``watermark`` (or from now); answers it and its watermark."""
        position = self.latest if watermark is None else self.position(mailbox, watermark)
        subscription_id = _token(b"\x1f\x00", 32)
        subscription = PushSubscription(
            subscription_id, mailbox, folder_ids, event_types, url, status_frequency, position
        )
        self.subscriptions[subscription_id] = subscription
        self._wake()
        return subscription, self.watermark(mailbox, position)

    def pending(self, subscription: PushSubscription) -> bool:
        return any(subscription.wants(e) for e in self.events[subscription.position :])

    def outgoing(self, subscription: PushSubscription, limit: int) -> Outgoing:
        """The next notification: up to ``limit`` events (MoreEvents when more wait), or a
        StatusEvent when none."""
        wanted = [e for e in self.events[subscription.position :] if subscription.wants(e)]
        taken, more = wanted[:limit], len(wanted) > limit
        position = taken[-1].number if more else self.latest
        mailbox = subscription.mailbox
        return Outgoing(
            subscription.id,
            subscription.url,
            self.watermark(mailbox, subscription.position),
            [(e, self.watermark(mailbox, e.number)) for e in taken],
            self.watermark(mailbox, position),
            more,
            position,
        )

    def settle(self, subscription: PushSubscription, sent: Outgoing, status: str | None) -> bool:
        """The client's SubscriptionStatus: OK moves the subscription on; Unsubscribe, or no
        valid answer after the retries (``None``), ends it ("SubscriptionStatus"). Answers
        whether it lives on."""
        if status == "OK":
            subscription.position = max(subscription.position, sent.position)
            return True
        subscription.alive = False
        subscription.ended = "Unsubscribe" if status == "Unsubscribe" else "unreachable"
        return False

    def _wake(self) -> None:
        for listener in self.listeners:
            listener()
