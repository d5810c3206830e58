"""Versioned event models, grouped by topic (see ``topics.py``).

Commands are imperative (``SyncRequested`` is a request, not a fact: it may coalesce), events are
past tense. Every model is frozen; ``type`` + ``schema_version`` identify its JSON Schema in
``libs/contracts/schemas/``.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, TypeAdapter

from calsync_contracts.envelope import Envelope, Frozen, Provider
from calsync_contracts.meeting import (
    MeetingSnapshot,
    MeetingStatus,
    MeetingTime,
    Participant,
    Recurrence,
)

# --- meeting events (topic crm.meeting-events.v1, key meeting id) -------------------------------


class ProviderLink(Frozen):
    """Set on a meeting event that applied a provider change: which provider item it came from,
    so the sync service can link its item to the CRM meeting without a second lookup."""

    connection_id: UUID
    external_id: str
    version_tag: str | None = None


class MeetingChange(Frozen):
    meeting: MeetingSnapshot
    previous: MeetingSnapshot | None = Field(
        default=None, description="The snapshot before this change (None on create)."
    )
    acting_user_id: UUID | None = Field(
        default=None, description="The CRM user who made the change; None for provider changes."
    )
    send_invitations: bool = Field(
        default=False, description="'Save and send invitations' (True) or 'save without sending'."
    )
    provider_link: ProviderLink | None = None


class DeletionKind(StrEnum):
    PHYSICAL = "physical"
    """The meeting was deleted: delete it everywhere, cancel invitations."""
    LOGICAL = "logical"
    """Unlinked (disconnect, left the sync window or scope): never cancel anything."""


class MeetingDeletion(MeetingChange):
    deletion: DeletionKind = DeletionKind.PHYSICAL


class MeetingCreated(Envelope):
    type: Literal["meeting.created"] = "meeting.created"
    schema_version: Literal[1] = 1
    payload: MeetingChange


class MeetingUpdated(Envelope):
    type: Literal["meeting.updated"] = "meeting.updated"
    schema_version: Literal[1] = 1
    payload: MeetingChange


class MeetingDeleted(Envelope):
    type: Literal["meeting.deleted"] = "meeting.deleted"
    schema_version: Literal[1] = 1
    payload: MeetingDeletion


MeetingEvent = Annotated[
    MeetingCreated | MeetingUpdated | MeetingDeleted, Field(discriminator="type")
]

# --- inbound provider changes (topic sync.provider-changes.v1, key connection id) ---------------


class ProviderChangeKind(StrEnum):
    UPSERT = "upsert"
    DELETED = "deleted"


class ProviderEventFields(Frozen):
    """A provider event normalised to the CRM's vocabulary by the sync service's adapter."""

    subject: str = ""
    location: str = ""
    description: str = ""
    time: MeetingTime
    private: bool = False
    status: MeetingStatus = MeetingStatus.CONFIRMED
    organizer_email: str | None = None
    attendees: list[Participant] = Field(default_factory=list)
    recurrence: Recurrence | None = None
    recurrence_id: AwareDatetime | date | None = Field(
        default=None,
        description="Edited occurrence: its original start (a date for all-day series).",
    )
    updated_at: AwareDatetime | None = Field(
        default=None, description="Provider's last-modified time, for the later-edit-wins policy."
    )


class ProviderChange(Frozen):
    connection_id: UUID
    provider: Provider
    user_id: UUID = Field(description="The CRM user whose connected calendar this is.")
    calendar_id: str = Field(description="The provider calendar (href / id) the item lives in.")
    kind: ProviderChangeKind
    deletion: DeletionKind | None = Field(
        default=None, description="For kind=deleted: physical (deleted in the provider) or logical."
    )
    external_id: str = Field(description="Provider item id (Google id, EWS ItemId, CalDAV href).")
    ical_uid: str | None = None
    crm_meeting_id: UUID | None = Field(
        default=None, description="CRM id found embedded in the provider item, if any."
    )
    version_tag: str | None = Field(default=None, description="ETag / changeKey of this version.")
    base_version: int | None = Field(
        default=None,
        description=(
            "The CRM meeting version this provider item was last synced from (the merge base); "
            "None when the item was never linked."
        ),
    )
    fields: ProviderEventFields | None = Field(default=None, description="None when deleted.")
    base_fields: ProviderEventFields | None = Field(
        default=None,
        description=(
            "The item as the sync service knew it before this change (what it last read from "
            "or wrote to the provider): the three-way merge base, and for a deletion the test "
            "of whether the CRM changed the meeting since (a modification beats a deletion)."
        ),
    )
    initial_import: bool = Field(
        default=False, description="Seen during a first or full sync: never send invitations."
    )


class ProviderChangeObserved(Envelope):
    type: Literal["provider.change-observed"] = "provider.change-observed"
    schema_version: Literal[1] = 1
    payload: ProviderChange


# --- sync requests (topic sync.requests.v1, key connection id) ----------------------------------


class SyncReason(StrEnum):
    PAGE_LOAD = "page_load"
    MANUAL_REFRESH = "manual_refresh"
    SCHEDULE = "schedule"
    CONNECTION_CHANGED = "connection_changed"


class SyncRequest(Frozen):
    connection_id: UUID
    provider: Provider
    user_id: UUID
    reason: SyncReason
    full: bool = Field(default=False, description="Ask for a full re-list instead of incremental.")


class SyncRequested(Envelope):
    type: Literal["sync.requested"] = "sync.requested"
    schema_version: Literal[1] = 1
    payload: SyncRequest


# --- connections (topics crm.connection-changes.v1 and sync.connection-status.v1) ---------------


class InvitationSender(StrEnum):
    """Exactly one party sends invitations for a connection, never both (Cal.com #7735)."""

    NOTIFIER = "notifier"
    PROVIDER = "provider"


class ConnectionAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    REMOVED = "removed"


class ConnectionConfig(Frozen):
    """A connection's settings as the sync services need them. Never holds a secret: services
    fetch credentials over the authenticated internal API, decrypted only in memory."""

    connection_id: UUID
    provider: Provider
    user_id: UUID
    account: str = Field(default="", description="Login / mailbox address (not secret).")
    server_url: str | None = None
    calendars: list[str] = Field(default_factory=list, description="Selected calendar ids/hrefs.")
    sync_window_months_back: int = Field(default=3, ge=0, le=120)
    sync_window_months_ahead: int = Field(default=12, ge=1, le=120)
    invitation_sender: InvitationSender = InvitationSender.NOTIFIER
    calendar_by_meeting_type: dict[str, str] = Field(
        default_factory=dict,
        description="Meeting type id → calendar id; other meetings go to the first calendar.",
    )
    shown_fields: list[str] = Field(
        default_factory=lambda: [
            "description",
            "location",
            "participants",
            "meeting_type",
            "custom_fields",
        ],
        description="CRM fields shown in the provider event besides subject and time.",
    )
    sync_interval_seconds: int = Field(default=60, ge=10, le=86400)
    time_zone: str = Field(
        default="UTC",
        max_length=64,
        description="The user's IANA zone: all-day meetings are written midnight to midnight in "
        "it where a provider keeps a zone with them (Exchange), not shifted for the user.",
    )
    config_version: int = Field(ge=1)


class ConnectionChange(Frozen):
    action: ConnectionAction
    config: ConnectionConfig


class ConnectionChanged(Envelope):
    type: Literal["connection.changed"] = "connection.changed"
    schema_version: Literal[1] = 1
    payload: ConnectionChange


class ConnectionState(StrEnum):
    PENDING = "pending"
    SYNCING = "syncing"
    IN_SYNC = "in_sync"
    THROTTLED = "throttled"
    FAILED = "failed"
    NEEDS_REAUTH = "needs_reauth"


class ConnectionStatus(Frozen):
    connection_id: UUID
    provider: Provider
    user_id: UUID
    state: ConnectionState
    message: str = Field(default="", description="Human-readable; never contains secrets.")
    last_success_at: AwareDatetime | None = None
    retry_at: AwareDatetime | None = None
    observed_at: datetime = Field(description="When the sync service saw this state (ordering).")


class ConnectionStatusChanged(Envelope):
    type: Literal["connection.status-changed"] = "connection.status-changed"
    schema_version: Literal[1] = 1
    payload: ConnectionStatus


# --- invitations (topic notify.invitations.v1, key meeting id) ----------------------------------


class InvitationMethod(StrEnum):
    """iTIP methods (RFC 5546 §1.4) the notifier sends."""

    REQUEST = "REQUEST"
    CANCEL = "CANCEL"


class Recipient(Frozen):
    email: str
    name: str = ""
    language: str = Field(default="en", description="Locale of dates in the mail (e.g. 'da').")
    timezone: str = Field(default="UTC", description="IANA zone of times in the mail.")


class InvitationTemplate(Frozen):
    """The mail's text: a "synced meeting" template (or the meeting's edited copy of one), with
    its merge fields as codes; checked by crm-api when saved, merged per recipient by the
    notifier."""

    template_id: UUID | None = None
    subject: str
    body: str = Field(description="HTML with merge codes, e.g. {{ meeting.subject }}.")


class MergeValues(Frozen):
    """What the CRM knows beyond the snapshot, resolved when the invitation was requested."""

    organisations: list[str] = Field(default_factory=list)
    persons: list[str] = Field(default_factory=list)
    users: list[str] = Field(default_factory=list)
    booked_by: str = ""
    link: str = ""


class InvitationRequest(Frozen):
    """One iTIP message (RFC 5546) of one meeting version to some recipients; the notifier sends
    each recipient's mail once."""

    meeting_id: UUID
    meeting_version: int = Field(ge=1)
    method: InvitationMethod
    recipients: list[Recipient]
    template_id: UUID | None = None
    meeting: MeetingSnapshot | None = Field(
        default=None, description="The meeting at this version (what the invitation describes)."
    )
    sequence: int = Field(
        default=0, ge=0, description="iCalendar SEQUENCE: +1 per significant change."
    )
    organizer: Recipient | None = Field(default=None, description="The owner (ORGANIZER).")
    sent_by: Recipient | None = Field(
        default=None, description="The booker, when booked on the owner's behalf (SENT-BY)."
    )
    attendees: list[Recipient] = Field(
        default_factory=list, description="Every attendee, for the ATTENDEE lines."
    )
    template: InvitationTemplate | None = None
    merge: MergeValues = Field(default_factory=MergeValues)


class InvitationRequested(Envelope):
    type: Literal["invitation.requested"] = "invitation.requested"
    schema_version: Literal[1] = 1
    payload: InvitationRequest


class InvitationOutcome(Frozen):
    meeting_id: UUID
    meeting_version: int = Field(ge=1)
    method: InvitationMethod
    recipient: Recipient
    message_id: str = Field(description="The deterministic RFC 5322 Message-ID of the mail.")


class InvitationSent(Envelope):
    type: Literal["invitation.sent"] = "invitation.sent"
    schema_version: Literal[1] = 1
    payload: InvitationOutcome


class InvitationFailure(InvitationOutcome):
    reason: str
    permanent: bool = Field(description="True for SMTP 5xx: will not be retried.")


class InvitationFailed(Envelope):
    type: Literal["invitation.failed"] = "invitation.failed"
    schema_version: Literal[1] = 1
    payload: InvitationFailure


InvitationEvent = Annotated[
    InvitationRequested | InvitationSent | InvitationFailed, Field(discriminator="type")
]

# --- helpers ------------------------------------------------------------------------------------

ALL_EVENT_TYPES: tuple[type[Envelope], ...] = (
    MeetingCreated,
    MeetingUpdated,
    MeetingDeleted,
    ProviderChangeObserved,
    SyncRequested,
    ConnectionChanged,
    ConnectionStatusChanged,
    InvitationRequested,
    InvitationSent,
    InvitationFailed,
)

meeting_event_adapter: TypeAdapter[MeetingEvent] = TypeAdapter(MeetingEvent)
invitation_event_adapter: TypeAdapter[InvitationEvent] = TypeAdapter(InvitationEvent)

__all__ = [
    "ALL_EVENT_TYPES",
    "ConnectionAction",
    "ConnectionChange",
    "ConnectionChanged",
    "ConnectionConfig",
    "ConnectionState",
    "ConnectionStatus",
    "ConnectionStatusChanged",
    "DeletionKind",
    "InvitationEvent",
    "InvitationFailed",
    "InvitationFailure",
    "InvitationMethod",
    "InvitationOutcome",
    "InvitationRequest",
    "InvitationRequested",
    "InvitationSender",
    "InvitationSent",
    "InvitationTemplate",
    "MeetingChange",
    "MeetingCreated",
    "MeetingDeleted",
    "MeetingDeletion",
    "MeetingEvent",
    "MeetingUpdated",
    "MergeValues",
    "ProviderChange",
    "ProviderChangeKind",
    "ProviderChangeObserved",
    "ProviderEventFields",
    "ProviderLink",
    "Recipient",
    "SyncReason",
    "SyncRequest",
    "SyncRequested",
    "invitation_event_adapter",
    "meeting_event_adapter",
]
