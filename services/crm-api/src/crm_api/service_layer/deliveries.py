"""The invitation delivery log: what the notifier reported per meeting and recipient."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from calsync_contracts.events import InvitationFailed, InvitationSent
from calsync_contracts.meeting import MeetingSnapshot
from crm_api.adapters.orm import InvitationDelivery, MeetingRevision
from crm_api.auth import Caller
from crm_api.domain.privacy import shown_to
from crm_api.errors import NotFound
from crm_api.service_layer.meetings import series_is_private


async def record_outcome(session: AsyncSession, event: InvitationSent | InvitationFailed) -> None:
    """Idempotent: a redelivered report rewrites the same row."""
    outcome = event.payload
    failed = isinstance(event, InvitationFailed)
    values = {
        "tenant_id": event.tenant_id,
        "meeting_id": outcome.meeting_id,
        "meeting_version": outcome.meeting_version,
        "method": outcome.method.value,
        "recipient": outcome.recipient.email.strip().lower(),
        "state": "failed" if failed else "sent",
        "message_id": outcome.message_id,
        "reason": event.payload.reason if isinstance(event, InvitationFailed) else "",
        "occurred_at": event.occurred_at,
    }
    key = ["meeting_id", "meeting_version", "method", "recipient"]
    update = {k: v for k, v in values.items() if k not in key and k != "tenant_id"}
    await session.execute(
        insert(InvitationDelivery)
        .values(**values)
        .on_conflict_do_update(index_elements=key, set_=update)
    )


async def deliveries_of(
    session: AsyncSession, caller: Caller, meeting_id: uuid.UUID
) -> list[InvitationDelivery]:
    """The log of a meeting of this tenant (also once the meeting is deleted: its last revision
    says whose it was and whether it was private)."""
    tenant_id = caller.tenant_id
    last = await session.scalar(
        select(MeetingRevision.snapshot)
        .where(MeetingRevision.meeting_id == meeting_id, MeetingRevision.tenant_id == tenant_id)
        .order_by(MeetingRevision.version.desc())
        .limit(1)
    )
    if last is None:
        raise NotFound("meeting")
    meeting = MeetingSnapshot.model_validate(last)
    series_private = await series_is_private(session, meeting.series_id)
    if not shown_to(meeting, caller.user_id, series_private=series_private):
        raise NotFound("meeting")
    rows = await session.execute(
        select(InvitationDelivery)
        .where(
            InvitationDelivery.tenant_id == tenant_id, InvitationDelivery.meeting_id == meeting_id
        )
        .order_by(InvitationDelivery.meeting_version, InvitationDelivery.occurred_at)
    )
    return list(rows.scalars())
