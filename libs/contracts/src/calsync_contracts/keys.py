"""Partition keys: which id each event is keyed by (see ``topics.py`` for why)."""

from __future__ import annotations

from calsync_contracts.envelope import Envelope
from calsync_contracts.events import (
    ConnectionChanged,
    ConnectionStatusChanged,
    InvitationFailed,
    InvitationRequested,
    InvitationSent,
    MeetingCreated,
    MeetingDeleted,
    MeetingUpdated,
    ProviderChangeObserved,
    SyncRequested,
)
from calsync_contracts.topics import Topic

_TOPIC_BY_TYPE: dict[type[Envelope], Topic] = {
    MeetingCreated: Topic.MEETING_EVENTS,
    MeetingUpdated: Topic.MEETING_EVENTS,
    MeetingDeleted: Topic.MEETING_EVENTS,
    ProviderChangeObserved: Topic.PROVIDER_CHANGES,
    SyncRequested: Topic.SYNC_REQUESTS,
    ConnectionChanged: Topic.CONNECTION_CHANGES,
    ConnectionStatusChanged: Topic.CONNECTION_STATUS,
    InvitationRequested: Topic.INVITATIONS,
    InvitationSent: Topic.INVITATIONS,
    InvitationFailed: Topic.INVITATIONS,
}


def topic_of_type(event_type: type[Envelope]) -> Topic:
    try:
        return _TOPIC_BY_TYPE[event_type]
    except KeyError:
        raise TypeError(f"no topic for event type {event_type.__name__}") from None


def topic_of(event: Envelope) -> Topic:
    return topic_of_type(type(event))


def partition_key(event: Envelope) -> bytes:
    """Meeting-scoped events by meeting id, connection-scoped ones by connection id."""
    match event:
        case MeetingCreated() | MeetingUpdated() | MeetingDeleted():
            key = event.payload.meeting.id
        case InvitationRequested() | InvitationSent() | InvitationFailed():
            key = event.payload.meeting_id
        case ProviderChangeObserved() | SyncRequested():
            key = event.payload.connection_id
        case ConnectionChanged():
            key = event.payload.config.connection_id
        case ConnectionStatusChanged():
            key = event.payload.connection_id
        case _:
            raise TypeError(f"no partition key for event type {type(event).__name__}")
    return str(key).encode()
