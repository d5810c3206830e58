"""Meeting use cases. Each runs in one transaction that also writes the meeting's revision and
its contract event to the outbox, so the event exists if and only if the change committed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from calsync_contracts import Origin
from calsync_contracts.events import (
    DeletionKind,
    MeetingChange,
    MeetingCreated,
    MeetingDeleted,
    MeetingDeletion,
    MeetingUpdated,
    ProviderLink,
)
from calsync_contracts.meeting import MeetingSnapshot, MeetingTime, Participant
from calsync_platform.outbox import enqueue
from crm_api.adapters.orm import (
    CustomFieldDefinition,
    Meeting,
    MeetingParticipant,
    MeetingRevision,
    MeetingType,
    User,
)
from crm_api.adapters.snapshots import meeting_snapshot, participant_rows, set_meeting_time
from crm_api.auth import Caller
from crm_api.domain.privacy import shown_to
from crm_api.errors import Invalid, NotFound, VersionMismatch
from crm_api.service_layer.participants import resolve_participants

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class EventContext:
    """Who and what caused a write: copied into the emitted event's envelope."""

    origin: Origin
    acting_user_id: uuid.UUID | None
    send_invitations: bool = False
    provider_link: ProviderLink | None = None
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None

    @classmethod
    def from_caller(cls, caller: Caller, send_invitations: bool) -> EventContext:
        return cls(Origin.crm(), caller.user_id, send_invitations)

    def envelope(self, tenant_id: uuid.UUID) -> dict[str, Any]:
        fields: dict[str, Any] = {"tenant_id": tenant_id, "origin": self.origin}
        if self.correlation_id is not None:
            fields["correlation_id"] = self.correlation_id
        if self.causation_id is not None:
            fields["causation_id"] = self.causation_id
        return fields

    def change(self, meeting: MeetingSnapshot, previous: MeetingSnapshot | None) -> MeetingChange:
        return MeetingChange(
            meeting=meeting,
            previous=previous,
            acting_user_id=self.acting_user_id,
            send_invitations=self.send_invitations,
            provider_link=self.provider_link,
        )


@dataclass(frozen=True, slots=True)
class MeetingDraft:
    """Validated content of a new meeting (the service checks references)."""

    owner_user_id: uuid.UUID
    subject: str
    time: MeetingTime
    location: str = ""
    description: str = ""
    description_html: str = ""
    meeting_type_id: uuid.UUID | None = None
    booked_by_user_id: uuid.UUID | None = None
    private: bool = False
    status: str = "confirmed"
    participants: Sequence[Participant] = ()
    custom_fields: dict[str, Any] | None = None
    ical_uid: str | None = None
    recurrence: dict[str, Any] | None = None
    series_id: uuid.UUID | None = None
    """An edited occurrence (RFC 5545 §3.8.4.4) of this series meeting; with ``recurrence_id``."""
    recurrence_id: str | None = None
    invitation_template_id: uuid.UUID | None = None
    invitation_subject: str | None = None
    invitation_body: str | None = None


# --- reads --------------------------------------------------------------------------------------


async def get_meeting(
    session: AsyncSession, tenant_id: uuid.UUID, meeting_id: uuid.UUID, *, lock: bool = False
) -> Meeting:
    statement = select(Meeting).where(Meeting.tenant_id == tenant_id, Meeting.id == meeting_id)
    if lock:
        statement = statement.with_for_update()  # serialises writes to one meeting (ADR 1)
    meeting = (await session.execute(statement)).scalar_one_or_none()
    if meeting is None:
        raise NotFound("meeting")
    return meeting


async def get_visible_meeting(
    session: AsyncSession, caller: Caller, meeting_id: uuid.UUID, *, lock: bool = False
) -> Meeting:
    """A meeting the caller may see: another user's private meeting they take no part in is
    "not found", for reading and for changing alike (domain.privacy)."""
    meeting = await get_meeting(session, caller.tenant_id, meeting_id, lock=lock)
    series_private = await series_is_private(session, meeting.series_id)
    if not shown_to(meeting_snapshot(meeting), caller.user_id, series_private=series_private):
        raise NotFound("meeting")
    return meeting


async def series_is_private(session: AsyncSession, series_id: uuid.UUID | None) -> bool:
    """Whether the series of an occurrence changed on its own is private (False for a meeting
    that is no such occurrence): the occurrence is then private too (domain.privacy)."""
    if series_id is None:
        return False
    return bool(await session.scalar(select(Meeting.private).where(Meeting.id == series_id)))


def _visible_to(viewer: uuid.UUID) -> ColumnElement[bool]:
    """domain.privacy.shown_to as SQL, so paging and totals count only what is shown."""
    series = aliased(Meeting)
    private_series = exists().where(series.id == Meeting.series_id, series.private.is_(True))
    return or_(
        Meeting.private.is_(False) & ~private_series,
        Meeting.owner_user_id == viewer,
        Meeting.booked_by_user_id == viewer,
        Meeting.participants.any(
            (MeetingParticipant.kind == "user") & (MeetingParticipant.ref_id == viewer)
        ),
    )


@dataclass(frozen=True, slots=True)
class MeetingFilter:
    owner_user_id: uuid.UUID | None = None
    participant_id: uuid.UUID | None = None
    meeting_type_id: uuid.UUID | None = None
    starts_before: datetime | None = None
    ends_after: datetime | None = None
    text: str | None = None


def _filtered(caller: Caller, f: MeetingFilter) -> Select[Meeting]:
    statement = select(Meeting).where(
        Meeting.tenant_id == caller.tenant_id, _visible_to(caller.user_id)
    )
    if f.owner_user_id:
        statement = statement.where(Meeting.owner_user_id == f.owner_user_id)
    if f.meeting_type_id:
        statement = statement.where(Meeting.meeting_type_id == f.meeting_type_id)
    if f.participant_id:
        statement = statement.where(
            Meeting.participants.any(MeetingParticipant.ref_id == f.participant_id)
        )
    if f.starts_before:
        statement = statement.where(Meeting.starts_at < f.starts_before)
    if f.ends_after:
        statement = statement.where(Meeting.ends_at > f.ends_after)
    if f.text:
        pattern = "%" + f.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(Meeting.subject.ilike(pattern), Meeting.location.ilike(pattern))
        )
    return statement


async def list_meetings(
    session: AsyncSession, caller: Caller, f: MeetingFilter, limit: int, offset: int
) -> tuple[list[MeetingSnapshot], int]:
    statement = _filtered(caller, f)
    total = (
        await session.execute(select(func.count()).select_from(statement.subquery()))
    ).scalar_one()
    page = statement.order_by(Meeting.starts_at, Meeting.id).limit(min(limit, MAX_PAGE))
    rows = (await session.execute(page.offset(offset))).scalars().all()
    return [meeting_snapshot(row) for row in rows], total


# --- validation of references -------------------------------------------------------------------


async def check_user(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, field: str
) -> None:
    found = await session.scalar(
        select(User.id).where(User.tenant_id == tenant_id, User.id == user_id)
    )
    if found is None:
        raise Invalid((field,), f"no user {user_id} in this tenant")


async def check_meeting_type(
    session: AsyncSession, tenant_id: uuid.UUID, type_id: uuid.UUID
) -> None:
    found = await session.scalar(
        select(MeetingType.id).where(MeetingType.tenant_id == tenant_id, MeetingType.id == type_id)
    )
    if found is None:
        raise Invalid(("meeting_type_id",), f"no meeting type {type_id} in this tenant")


async def custom_field_definitions(
    session: AsyncSession, tenant_id: uuid.UUID
) -> dict[str, tuple[str, list[str], bool]]:
    rows = (
        await session.execute(
            select(CustomFieldDefinition).where(CustomFieldDefinition.tenant_id == tenant_id)
        )
    ).scalars()
    return {row.key: (row.type, list(row.choices), row.required) for row in rows}


# --- writes -------------------------------------------------------------------------------------


async def create_meeting(
    session: AsyncSession, tenant_id: uuid.UUID, draft: MeetingDraft, context: EventContext
) -> MeetingSnapshot:
    meeting_id = uuid.uuid4()
    meeting = Meeting(
        id=meeting_id,
        tenant_id=tenant_id,
        ical_uid=draft.ical_uid or f"{meeting_id}@calsync",
        version=1,
        owner_user_id=draft.owner_user_id,
        booked_by_user_id=draft.booked_by_user_id,
        meeting_type_id=draft.meeting_type_id,
        subject=draft.subject,
        location=draft.location,
        description=draft.description,
        description_html=draft.description_html,
        private=draft.private,
        status=draft.status,
        custom_fields=draft.custom_fields or {},
        recurrence=draft.recurrence,
        series_id=draft.series_id,
        recurrence_id=draft.recurrence_id,
        invitation_template_id=draft.invitation_template_id,
        invitation_subject=draft.invitation_subject,
        invitation_body=draft.invitation_body,
        updated_at=datetime.now(UTC),
        participants=participant_rows(list(draft.participants)),
    )
    set_meeting_time(meeting, draft.time)
    session.add(meeting)
    await session.flush()
    snapshot = meeting_snapshot(meeting)
    await _record(session, snapshot)
    await enqueue(
        session,
        MeetingCreated(**context.envelope(tenant_id), payload=context.change(snapshot, None)),
    )
    return snapshot


async def save_changes(
    session: AsyncSession,
    meeting: Meeting,
    previous: MeetingSnapshot,
    context: EventContext,
    *,
    force: bool = False,
) -> MeetingSnapshot:
    """Bumps the version of a (locked, modified) meeting and emits ``meeting.updated``.
    A change that changes nothing emits nothing (no churn, no attendee responses reset) unless
    ``force``d (re-announcing a meeting a provider deleted: conflict rule 10)."""
    candidate = meeting_snapshot(meeting).model_copy(update={"version": previous.version})
    if candidate == previous and not force:
        return previous
    meeting.version = previous.version + 1
    meeting.updated_at = datetime.now(UTC)
    await session.flush()
    snapshot = meeting_snapshot(meeting)
    await _record(session, snapshot)
    await enqueue(
        session,
        MeetingUpdated(
            **context.envelope(meeting.tenant_id), payload=context.change(snapshot, previous)
        ),
    )
    return snapshot


async def delete_meeting(
    session: AsyncSession,
    meeting: Meeting,
    context: EventContext,
    deletion: DeletionKind = DeletionKind.PHYSICAL,
) -> MeetingSnapshot:
    previous = meeting_snapshot(meeting)
    final = previous.model_copy(update={"version": previous.version + 1})
    await session.delete(meeting)
    await _record(session, final)
    payload = MeetingDeletion(
        meeting=final,
        previous=previous,
        acting_user_id=context.acting_user_id,
        send_invitations=context.send_invitations,
        provider_link=context.provider_link,
        deletion=deletion,
    )
    await enqueue(session, MeetingDeleted(**context.envelope(meeting.tenant_id), payload=payload))
    return final


def check_if_match(if_match: str | None, version: int) -> None:
    """``If-Match: "<version>"`` (RFC 9110 §13.1.1); ``*`` matches any version."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    if str(version) not in wanted:
        raise VersionMismatch(f"meeting is at version {version}, not {if_match}")


async def _record(session: AsyncSession, snapshot: MeetingSnapshot) -> None:
    session.add(
        MeetingRevision(
            meeting_id=snapshot.id,
            version=snapshot.version,
            tenant_id=snapshot.tenant_id,
            snapshot=snapshot.model_dump(mode="json"),
        )
    )
    await session.flush()


async def revision(
    session: AsyncSession, meeting_id: uuid.UUID, version: int
) -> MeetingSnapshot | None:
    row = await session.get(MeetingRevision, (meeting_id, version))
    return MeetingSnapshot.model_validate(row.snapshot) if row is not None else None


__all__ = [
    "EventContext",
    "MeetingDraft",
    "MeetingFilter",
    "check_if_match",
    "create_meeting",
    "delete_meeting",
    "get_meeting",
    "list_meetings",
    "resolve_participants",
    "revision",
    "save_changes",
]
