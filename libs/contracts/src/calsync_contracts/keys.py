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


def topic_of(event: Envelope) -> Topic:
    match event:
        case MeetingCreated() | MeetingUpdated() | MeetingDeleted():
            return Topic.MEETING_EVENTS
        case ProviderChangeObserved():
            return Topic.PROVIDER_CHANGES
        case SyncRequested():
            return Topic.SYNC_REQUESTS
        case ConnectionChanged():
            return Topic.CONNECTION_CHANGES
        case ConnectionStatusChanged():
            return Topic.CONNECTION_STATUS
        case InvitationRequested() | InvitationSent() | InvitationFailed():
            return Topic.INVITATIONS
    raise TypeError(f"no topic for event type {type(event).__name__}")


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
