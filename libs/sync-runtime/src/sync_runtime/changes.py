"""CRM meeting events ⇄ the pending-change rows a sync pass pushes (the latest per meeting)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from calsync_contracts.events import (
    DeletionKind,
    MeetingCreated,
    MeetingDeleted,
    MeetingUpdated,
    ProviderLink,
)
from calsync_contracts.meeting import MeetingSnapshot
from sync_core.planner import CrmChange

MeetingEventType = MeetingCreated | MeetingUpdated | MeetingDeleted


def pending_row(event: MeetingEventType) -> dict[str, Any]:
    payload = event.payload
    return {
        "meeting": payload.meeting.model_dump(mode="json"),
        "deletion": event.payload.deletion.value if isinstance(event, MeetingDeleted) else None,
        "origin_connection_id": str(event.origin.connection_id)
        if event.origin.connection_id
        else None,
        "provider_link": payload.provider_link.model_dump(mode="json")
        if payload.provider_link
        else None,
    }


def crm_change(row: dict[str, Any]) -> CrmChange:
    origin = row.get("origin_connection_id")
    link = row.get("provider_link")
    return CrmChange(
        meeting=MeetingSnapshot.model_validate(row["meeting"]),
        deletion=DeletionKind(row["deletion"]) if row.get("deletion") else None,
        origin_connection_id=UUID(origin) if origin else None,
        provider_link=ProviderLink.model_validate(link) if link else None,
    )
