"""/meetings: translate HTTP to the meeting commands and back."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response, status
from pydantic import BaseModel, Field

from calsync_contracts.meeting import MeetingSnapshot
from crm_api.adapters.snapshots import meeting_snapshot
from crm_api.entrypoints.http.deps import CallerDep, SessionDep
from crm_api.errors import Invalid
from crm_api.schemas.meetings import MeetingCreate, MeetingPage, MeetingPatch
from crm_api.schemas.types import CrmDatetime
from crm_api.service_layer import deliveries, meeting_commands, meetings, occurrences

router = APIRouter(prefix="/meetings", tags=["meetings"])

IfMatch = Annotated[
    str | None,
    Header(description='Optimistic concurrency: the version you read, e.g. "3". 412 if stale.'),
]


def _etag(response: Response, snapshot: MeetingSnapshot) -> MeetingSnapshot:
    response.headers["ETag"] = f'"{snapshot.version}"'
    return snapshot


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a meeting")
async def create_meeting(
    body: MeetingCreate, caller: CallerDep, session: SessionDep, response: Response
) -> MeetingSnapshot:
    async with session.begin():
        snapshot = await meeting_commands.create(session, caller, body)
    response.headers["Location"] = f"/meetings/{snapshot.id}"
    return _etag(response, snapshot)


@router.get("", summary="List meetings with filters and paging")
async def list_meetings(
    caller: CallerDep,
    session: SessionDep,
    owner_user_id: uuid.UUID | None = None,
    participant_id: Annotated[
        uuid.UUID | None, Query(description="A user, person or organisation id")
    ] = None,
    meeting_type_id: uuid.UUID | None = None,
    start: Annotated[CrmDatetime | None, Query(description="Overlapping from")] = None,
    end: Annotated[CrmDatetime | None, Query(description="Overlapping until")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Text in subject or location")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=meetings.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> MeetingPage:
    window_end: datetime | None = end
    f = meetings.MeetingFilter(owner_user_id, participant_id, meeting_type_id, window_end, start, q)
    items, total = await meetings.list_meetings(session, caller, f, limit, offset)
    return MeetingPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{meeting_id}", summary="Read a meeting")
async def get_meeting(
    meeting_id: uuid.UUID, caller: CallerDep, session: SessionDep, response: Response
) -> MeetingSnapshot:
    meeting = await meetings.get_visible_meeting(session, caller, meeting_id)
    return _etag(response, meeting_snapshot(meeting))


@router.patch("/{meeting_id}", summary="Change a meeting (or one occurrence of a series)")
async def patch_meeting(
    meeting_id: uuid.UUID,
    body: MeetingPatch,
    caller: CallerDep,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> MeetingSnapshot:
    async with session.begin():
        snapshot = await meeting_commands.patch(session, caller, meeting_id, body, if_match)
    return _etag(response, snapshot)


@router.patch(
    "/{meeting_id}/occurrences/{recurrence_id}",
    summary="Change one occurrence of a series (the first change makes its override)",
)
async def patch_occurrence(
    meeting_id: uuid.UUID,
    recurrence_id: Annotated[
        str,
        Path(
            max_length=40,
            description="The occurrence's RECURRENCE-ID: its original start with offset "
            "(2026-11-23T10:00:00+00:00), or its date for all-day series (2026-11-23)",
        ),
    ],
    body: MeetingPatch,
    caller: CallerDep,
    session: SessionDep,
    response: Response,
) -> MeetingSnapshot:
    occurrence = _recurrence_id(recurrence_id)
    async with session.begin():
        snapshot = await occurrences.edit_occurrence(session, caller, meeting_id, occurrence, body)
    return _etag(response, snapshot)


def _recurrence_id(text: str) -> datetime | date:
    try:
        value = datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
    except ValueError:
        raise Invalid(("path", "recurrence_id"), "not an ISO 8601 date or date-time") from None
    if isinstance(value, datetime) and value.tzinfo is None:
        raise Invalid(("path", "recurrence_id"), "give the occurrence's start with its offset")
    return value


@router.delete("/{meeting_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a meeting")
async def delete_meeting(
    meeting_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    if_match: IfMatch = None,
    send_invitations: Annotated[
        bool, Query(description="Send cancellations to the participants")
    ] = False,
) -> None:
    async with session.begin():
        await meeting_commands.delete(session, caller, meeting_id, if_match, send_invitations)


class DeliveryOut(BaseModel):
    meeting_version: int
    method: str
    recipient: str
    state: str = Field(description="sent, or failed (the SMTP server refused it for good)")
    message_id: str
    reason: str
    occurred_at: datetime


class InvitationSettingsOut(BaseModel):
    """What the meeting's invitations are made from, for the meeting form to show on edit."""

    template_id: uuid.UUID | None
    invitation_subject: str | None = Field(description="The meeting's own edited subject, if any.")
    invitation_body: str | None = Field(description="The meeting's own edited text, if any.")


@router.get(
    "/{meeting_id}/invitation",
    summary="The template and edited text the meeting's invitations are made from",
)
async def get_invitation_settings(
    meeting_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> InvitationSettingsOut:
    meeting = await meetings.get_visible_meeting(session, caller, meeting_id)
    return InvitationSettingsOut(
        template_id=meeting.invitation_template_id,
        invitation_subject=meeting.invitation_subject,
        invitation_body=meeting.invitation_body,
    )


@router.get("/{meeting_id}/invitations", summary="The invitation delivery log of a meeting")
async def get_deliveries(
    meeting_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> list[DeliveryOut]:
    rows = await deliveries.deliveries_of(session, caller, meeting_id)
    return [
        DeliveryOut(
            meeting_version=r.meeting_version,
            method=r.method,
            recipient=r.recipient,
            state=r.state,
            message_id=r.message_id,
            reason=r.reason,
            occurred_at=r.occurred_at,
        )
        for r in rows
    ]
