"""What the engine knows about the connection it syncs."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from calsync_contracts import Provider
from calsync_contracts.events import ConnectionConfig, InvitationSender
from calsync_contracts.meeting import MeetingSnapshot
from sync_core.ports import SHOWABLE_FIELDS, OutboundEvent
from sync_core.window import SyncWindow


@dataclass(frozen=True, slots=True)
class ConnectionContext:
    connection_id: UUID
    tenant_id: UUID
    user_id: UUID
    provider: Provider
    calendars: tuple[str, ...]
    window: SyncWindow
    calendar_by_meeting_type: dict[str, str] = field(default_factory=dict)
    shown_fields: frozenset[str] = frozenset(SHOWABLE_FIELDS)
    invitation_sender: InvitationSender = InvitationSender.NOTIFIER
    time_zone: str = "UTC"

    @classmethod
    def of(cls, tenant_id: UUID, config: ConnectionConfig, window: SyncWindow) -> ConnectionContext:
        return cls(
            connection_id=config.connection_id,
            tenant_id=tenant_id,
            user_id=config.user_id,
            provider=config.provider,
            calendars=tuple(config.calendars),
            window=window,
            calendar_by_meeting_type=dict(config.calendar_by_meeting_type),
            shown_fields=frozenset(config.shown_fields),
            invitation_sender=config.invitation_sender,
            time_zone=config.time_zone,
        )

    def calendar_for(self, meeting: MeetingSnapshot) -> str:
        """The user's mapping of meeting types to calendars; else the first picked calendar."""
        if meeting.meeting_type_id is not None:
            mapped = self.calendar_by_meeting_type.get(str(meeting.meeting_type_id))
            if mapped in self.calendars:
                return mapped
        return self.calendars[0]

    def outbound(self, meeting: MeetingSnapshot) -> OutboundEvent:
        return OutboundEvent(
            meeting=meeting,
            shown_fields=self.shown_fields,
            notifier_sends_invitations=self.invitation_sender is InvitationSender.NOTIFIER,
            all_day_zone=self.time_zone,
        )
