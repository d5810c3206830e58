"""Applies provider changes to CRM meetings (docs/conflict-rules.md): one transaction per change
holding the idempotency record, the effect, the link and the resulting meeting event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from calsync_contracts import Origin
from calsync_contracts.events import (
    DeletionKind,
    ProviderChange,
    ProviderChangeKind,
    ProviderChangeObserved,
    ProviderLink,
)
from calsync_contracts.meeting import MeetingSnapshot, Recurrence
from calsync_platform.inbox import claim
from crm_api.adapters.orm import CalendarConnection, Meeting, MeetingLink, SyncConflict, Tenant
from crm_api.adapters.snapshots import (
    meeting_snapshot,
    participant_rows,
    set_meeting_time,
)
from crm_api.domain.recurrence import instant_key
from crm_api.messaging.inbound_rules import Action, Decision, decide_delete, decide_upsert
from crm_api.service_layer import meetings
from crm_api.service_layer.meetings import EventContext, MeetingDraft
from crm_api.service_layer.participants import match_attendees
from sync_core.merge import ConflictPolicy

CONSUMER = "crm-api.inbound"


class UnknownConnection(Exception):
    """The change names a connection that does not exist in its tenant: never retried."""


@dataclass(frozen=True, slots=True)
class Applied:
    action: Action
    meeting_id: uuid.UUID | None


async def apply_provider_change(session: AsyncSession, event: ProviderChangeObserved) -> Applied:
    """Call inside ``session.begin()``. Returns what was done (for logs and tests)."""
    if not await claim(session, CONSUMER, event.event_id):
        return Applied(Action.SKIP, None)  # rule 1: already applied
    change = event.payload
    connection = await _connection(session, event.tenant_id, change)
    link = await _find_link(session, change)
    meeting = await _match(session, event.tenant_id, connection, change, link)
    if link is None and meeting is not None:
        link = await _link_of_meeting(session, change, meeting.id)  # re-listed under a new id
    context = EventContext(
        origin=Origin.from_connection(change.connection_id, change.provider),
        acting_user_id=None,
        provider_link=ProviderLink(
            connection_id=change.connection_id,
            external_id=change.external_id,
            version_tag=change.version_tag,
        ),
        correlation_id=event.correlation_id,
        causation_id=event.event_id,
    )
    if change.kind is ProviderChangeKind.DELETED:
        return await _apply_delete(session, change, meeting, link, context)
    return await _apply_upsert(session, event.tenant_id, change, meeting, link, context)


async def _connection(
    session: AsyncSession, tenant_id: uuid.UUID, change: ProviderChange
) -> CalendarConnection:
    connection = await session.scalar(
        select(CalendarConnection).where(
            CalendarConnection.tenant_id == tenant_id,
            CalendarConnection.id == change.connection_id,
        )
    )
    if connection is None or connection.user_id != change.user_id:
        raise UnknownConnection(f"connection {change.connection_id} is not in tenant {tenant_id}")
    return connection


async def _find_link(session: AsyncSession, change: ProviderChange) -> MeetingLink | None:
    return await session.scalar(
        select(MeetingLink).where(
            MeetingLink.connection_id == change.connection_id,
            MeetingLink.external_id == change.external_id,
        )
    )


async def _link_of_meeting(
    session: AsyncSession, change: ProviderChange, meeting_id: uuid.UUID
) -> MeetingLink | None:
    return await session.scalar(
        select(MeetingLink).where(
            MeetingLink.connection_id == change.connection_id,
            MeetingLink.meeting_id == meeting_id,
        )
    )


async def _match(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    connection: CalendarConnection,
    change: ProviderChange,
    link: MeetingLink | None,
) -> Meeting | None:
    """Rule 4: by link, then the CRM id embedded in the item, then the iCalendar UID among the
    connection owner's meetings — for an edited occurrence, the UID AND its RECURRENCE-ID (a
    series and its occurrences share one UID, RFC 5545 §3.8.4.4). Locked: writes to one meeting
    are serialised."""
    owned = (Meeting.tenant_id == tenant_id, Meeting.owner_user_id == connection.user_id)
    for condition in (
        Meeting.id == link.meeting_id if link else None,
        Meeting.id == change.crm_meeting_id if change.crm_meeting_id else None,
    ):
        if condition is None:
            continue
        found = await session.scalar(select(Meeting).where(*owned, condition).with_for_update())
        if found is not None:
            return found
    if not change.ical_uid:
        return None
    return await _by_uid(session, owned, change.ical_uid, _recurrence_id(change))


async def _by_uid(
    session: AsyncSession, owned: tuple[Any, ...], ical_uid: str, recurrence_id: str | None
) -> Meeting | None:
    candidates = await session.scalars(
        select(Meeting).where(*owned, Meeting.ical_uid == ical_uid).with_for_update()
    )
    for meeting in candidates:
        own = instant_key(meeting.recurrence_id) if meeting.recurrence_id is not None else None
        if own == recurrence_id:
            return meeting
    return None


def _recurrence_id(change: ProviderChange) -> str | None:
    rid = change.fields.recurrence_id if change.fields else None
    return instant_key(rid) if rid is not None else None


async def _apply_upsert(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    change: ProviderChange,
    meeting: Meeting | None,
    link: MeetingLink | None,
    context: EventContext,
) -> Applied:
    current = meeting_snapshot(meeting) if meeting else None
    base = await _base(session, meeting, change, link)
    policy = ConflictPolicy(
        await session.scalar(select(Tenant.conflict_policy).where(Tenant.id == tenant_id))
        or "later_edit_wins"
    )
    decision = decide_upsert(
        change,
        current,
        base,
        link.version_tag if link else None,
        policy,
        meeting.updated_at if meeting else None,
    )
    if meeting is None or current is None:
        snapshot = await _create(session, tenant_id, change, decision, context)
        await _link(session, tenant_id, change, snapshot.id, snapshot.version, link)
        return Applied(Action.CREATE, snapshot.id)
    await _record_conflicts(session, meeting, change, decision)
    if decision.action is Action.UPDATE and decision.changes is not None:
        await _apply_fields(session, tenant_id, meeting, decision.changes, current)
        current = await meetings.save_changes(session, meeting, current, context)
    elif decision.action is Action.REANNOUNCE:
        current = await meetings.save_changes(session, meeting, current, context, force=True)
    await _link(session, tenant_id, change, meeting.id, current.version, link)
    return Applied(decision.action, meeting.id)


async def _base(
    session: AsyncSession,
    meeting: Meeting | None,
    change: ProviderChange,
    link: MeetingLink | None,
) -> MeetingSnapshot | None:
    version = change.base_version or (link.synced_version if link else None)
    if meeting is None or version is None:
        return None
    return await meetings.revision(session, meeting.id, version)


async def _create(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    change: ProviderChange,
    decision: Decision,
    context: EventContext,
) -> MeetingSnapshot:
    """Rule 6: first-sync import of a provider-only event; never sends invitations."""
    fields = change.fields
    assert fields is not None
    attendees = decision.changes["attendees"] if decision.changes else []
    draft = MeetingDraft(
        owner_user_id=change.user_id,
        subject=fields.subject or "(no subject)",
        location=fields.location,
        description=fields.description,
        time=fields.time,
        private=fields.private,
        status=fields.status.value,
        participants=await match_attendees(session, tenant_id, attendees, []),
        ical_uid=change.ical_uid,
        recurrence=fields.recurrence.model_dump(mode="json") if fields.recurrence else None,
        **await _occurrence_of(session, tenant_id, change),
    )
    return await meetings.create_meeting(session, tenant_id, draft, context)


async def _occurrence_of(
    session: AsyncSession, tenant_id: uuid.UUID, change: ProviderChange
) -> dict[str, Any]:
    """An imported edited occurrence is attached to its series (same UID, no RECURRENCE-ID)."""
    fields = change.fields
    if fields is None or fields.recurrence_id is None or not change.ical_uid:
        return {}
    owned = (Meeting.tenant_id == tenant_id, Meeting.owner_user_id == change.user_id)
    series = await _by_uid(session, owned, change.ical_uid, None)
    return {
        "series_id": series.id if series else None,
        "recurrence_id": instant_key(fields.recurrence_id),
    }


async def _apply_fields(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    meeting: Meeting,
    changes: dict[str, Any] | Any,
    current: MeetingSnapshot,
) -> None:
    """Rule 7: only provider-mapped fields; CRM-only fields are left as they are."""
    for name in ("subject", "location", "description", "private", "status"):
        if name in changes:
            setattr(meeting, name, changes[name])
    if "description" in changes:
        meeting.description_html = ""  # the calendar program's plain text replaces the formatting
    if "time" in changes:
        set_meeting_time(
            meeting,
            MeetingSnapshot.model_validate(
                {**current.model_dump(mode="json"), "time": changes["time"]}
            ).time,
        )
    if "recurrence" in changes:
        value = changes["recurrence"]
        meeting.recurrence = (
            Recurrence.model_validate(value).model_dump(mode="json") if value else None
        )
    if "attendees" in changes:
        matched = await match_attendees(
            session, tenant_id, changes["attendees"], current.participants
        )
        meeting.participants = participant_rows(matched)


async def _apply_delete(
    session: AsyncSession,
    change: ProviderChange,
    meeting: Meeting | None,
    link: MeetingLink | None,
    context: EventContext,
) -> Applied:
    decision = decide_delete(change, meeting_snapshot(meeting) if meeting else None)
    if link is not None:
        await session.execute(delete(MeetingLink).where(MeetingLink.id == link.id))
    if meeting is None or decision.action is Action.SKIP:
        return Applied(Action.SKIP, None)
    if decision.action is Action.DELETE:
        await meetings.delete_meeting(session, meeting, context, DeletionKind.PHYSICAL)
    elif decision.action is Action.REVIVE:
        # Rule 10: re-announce as a CRM change so the sync service creates it again.
        crm_context = EventContext(
            Origin.crm(),
            None,
            correlation_id=context.correlation_id,
            causation_id=context.causation_id,
        )
        previous = meeting_snapshot(meeting)
        await meetings.save_changes(session, meeting, previous, crm_context, force=True)
    return Applied(decision.action, meeting.id)


async def _link(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    change: ProviderChange,
    meeting_id: uuid.UUID,
    version: int,
    link: MeetingLink | None,
) -> None:
    if link is None:
        await session.execute(
            delete(MeetingLink).where(
                MeetingLink.connection_id == change.connection_id,
                MeetingLink.meeting_id == meeting_id,
            )
        )
        link = MeetingLink(
            tenant_id=tenant_id,
            connection_id=change.connection_id,
            meeting_id=meeting_id,
            external_id=change.external_id,
        )
        session.add(link)
    link.meeting_id = meeting_id
    link.external_id = change.external_id
    link.calendar_id = change.calendar_id
    link.version_tag = change.version_tag
    link.synced_version = version
    await session.flush()


async def _record_conflicts(
    session: AsyncSession, meeting: Meeting, change: ProviderChange, decision: Decision
) -> None:
    for conflict in decision.conflicts:
        session.add(
            SyncConflict(
                tenant_id=meeting.tenant_id,
                meeting_id=meeting.id,
                connection_id=change.connection_id,
                field=conflict.field,
                crm_value=conflict.crm_value,
                provider_value=conflict.provider_value,
                winner=conflict.winner.value,
            )
        )
