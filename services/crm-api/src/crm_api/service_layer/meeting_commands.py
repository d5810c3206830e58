"""The API's meeting commands: validate a request against the tenant's data, then write through
``service_layer.meetings`` (one transaction with the outbox event)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calsync_contracts.events import DeletionKind
from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot, MeetingTime
from crm_api.adapters.orm import Meeting
from crm_api.adapters.snapshots import meeting_snapshot, participant_rows, set_meeting_time
from crm_api.auth import Caller
from crm_api.domain.invitations import is_significant
from crm_api.domain.meetings import (
    SERIES_ARE_READ_ONLY,
    build_time,
    refuse_recurrence,
    validate_custom_fields,
)
from crm_api.domain.rich_text import plain_text, sanitise
from crm_api.errors import Forbidden, Invalid
from crm_api.schemas.meetings import MeetingCreate, MeetingPatch
from crm_api.service_layer import invitations, meetings
from crm_api.service_layer.meetings import EventContext, MeetingDraft
from crm_api.service_layer.participants import resolve_participants

TIME_FIELDS = ("all_day", "start", "end", "timezone", "start_date", "end_date")
INVITATION_FIELDS = {"template_id", "invitation_subject", "invitation_body"}


async def create(session: AsyncSession, caller: Caller, body: MeetingCreate) -> MeetingSnapshot:
    refuse_recurrence(body.recurrence)
    tenant = caller.tenant_id
    owner = body.owner_user_id or caller.user_id
    await meetings.check_user(session, tenant, owner, "owner_user_id")
    if body.meeting_type_id:
        await meetings.check_meeting_type(session, tenant, body.meeting_type_id)
    definitions = await meetings.custom_field_definitions(session, tenant)
    await invitations.choose_template(
        session, tenant, body.template_id, body.invitation_subject, body.invitation_body
    )
    text, formatted = _description(body.description, body.description_html)
    draft = MeetingDraft(
        owner_user_id=owner,
        # Booking on behalf: the meeting lives in the owner's calendar only (not the booker's).
        booked_by_user_id=caller.user_id if owner != caller.user_id else None,
        subject=body.subject,
        location=body.location,
        description=text,
        description_html=formatted,
        meeting_type_id=body.meeting_type_id,
        time=build_time(**body.model_dump(include=set(TIME_FIELDS))),
        private=body.private,
        status=body.status.value,
        participants=await resolve_participants(session, tenant, body.participants),
        custom_fields=validate_custom_fields(body.custom_fields, definitions, require_all=True),
        invitation_template_id=body.template_id,
        invitation_subject=body.invitation_subject,
        invitation_body=body.invitation_body,
    )
    context = EventContext.from_caller(caller, body.send_invitations)
    snapshot = await meetings.create_meeting(session, tenant, draft, context)
    row = await meetings.get_meeting(session, tenant, snapshot.id)
    await invitations.request_invitations(session, row, snapshot, None, context)
    return snapshot


async def patch(
    session: AsyncSession,
    caller: Caller,
    meeting_id: uuid.UUID,
    body: MeetingPatch,
    if_match: str | None,
) -> MeetingSnapshot:
    refuse_recurrence(body.recurrence)
    tenant = caller.tenant_id
    meeting = await meetings.get_visible_meeting(session, caller, meeting_id, lock=True)
    meetings.check_if_match(if_match, meeting.version)
    previous = meeting_snapshot(meeting)
    given = body.model_fields_set
    check_privacy_change(meeting, body, caller)
    for name in ("subject", "location", "private"):
        if name in given and getattr(body, name) is not None:
            setattr(meeting, name, getattr(body, name))
    if body.description_html is not None or body.description is not None:
        meeting.description, meeting.description_html = _description(
            body.description, body.description_html
        )
    if "status" in given and body.status is not None:
        meeting.status = body.status.value
    if "owner_user_id" in given and body.owner_user_id is not None:
        await meetings.check_user(session, tenant, body.owner_user_id, "owner_user_id")
        meeting.owner_user_id = body.owner_user_id
        meeting.booked_by_user_id = caller.user_id if body.owner_user_id != caller.user_id else None
    if "meeting_type_id" in given:
        if body.meeting_type_id is not None:
            await meetings.check_meeting_type(session, tenant, body.meeting_type_id)
        meeting.meeting_type_id = body.meeting_type_id
    if given & set(TIME_FIELDS):
        if meeting.recurrence is not None:
            raise Invalid(("start",), SERIES_ARE_READ_ONLY)
        set_meeting_time(meeting, _patched_time(previous.time, body))
    if "participants" in given and body.participants is not None:
        resolved = await resolve_participants(session, tenant, body.participants)
        meeting.participants = participant_rows(_keep_responses(resolved, previous))
    if "custom_fields" in given and body.custom_fields is not None:
        definitions = await meetings.custom_field_definitions(session, tenant)
        merged = {**meeting.custom_fields, **body.custom_fields}
        meeting.custom_fields = validate_custom_fields(merged, definitions, require_all=False)
    if given & INVITATION_FIELDS:
        await _choose_template(session, meeting, body)
    if is_significant(previous, meeting_snapshot(meeting)):
        meeting.invitation_sequence += 1  # RFC 5546 §2.1.4: attendees' copies get replaced
    context = EventContext.from_caller(caller, body.send_invitations)
    snapshot = await meetings.save_changes(session, meeting, previous, context)
    await invitations.request_invitations(session, meeting, snapshot, previous, context)
    return snapshot


async def _choose_template(session: AsyncSession, meeting: Meeting, body: MeetingPatch) -> None:
    given = body.model_fields_set
    template_id = body.template_id if "template_id" in given else meeting.invitation_template_id
    subject = (
        body.invitation_subject if "invitation_subject" in given else meeting.invitation_subject
    )
    text = body.invitation_body if "invitation_body" in given else meeting.invitation_body
    await invitations.choose_template(session, meeting.tenant_id, template_id, subject, text)
    meeting.invitation_template_id = template_id
    meeting.invitation_subject = subject
    meeting.invitation_body = text


def _description(text: str | None, html: str | None) -> tuple[str, str]:
    """The formatted description wins: its plain text is what providers get. A plain text
    alone (an API client, a provider) leaves no formatting behind."""
    if html is None:
        return text or "", ""
    clean = sanitise(html)
    return plain_text(clean), clean


def _patched_time(current: MeetingTime, body: MeetingPatch) -> MeetingTime:
    values: dict[str, Any] = (
        {
            "all_day": True,
            "start": None,
            "end": None,
            "timezone": None,
            "start_date": current.start_date,
            "end_date": current.end_date,
        }
        if isinstance(current, AllDaySpan)
        else {
            "all_day": False,
            "start": current.start,
            "end": current.end,
            "timezone": current.timezone,
            "start_date": None,
            "end_date": None,
        }
    )
    values.update(body.model_dump(include=body.model_fields_set & set(TIME_FIELDS)))
    if values["all_day"] is None:
        values["all_day"] = False
    return build_time(**values)


def _keep_responses(new: list[Any], previous: MeetingSnapshot) -> list[Any]:
    """Re-saving the participant list must not reset the answers they already gave."""
    answers = {(p.kind, p.id, p.email): p.response for p in previous.participants}
    return [
        p.model_copy(update={"response": answers.get((p.kind, p.id, p.email), p.response)})
        for p in new
    ]


async def delete(
    session: AsyncSession,
    caller: Caller,
    meeting_id: uuid.UUID,
    if_match: str | None,
    send_invitations: bool,
) -> None:
    meeting = await meetings.get_visible_meeting(session, caller, meeting_id, lock=True)
    meetings.check_if_match(if_match, meeting.version)
    context = EventContext.from_caller(caller, send_invitations)
    previous = meeting_snapshot(meeting)
    final = await meetings.delete_meeting(session, meeting, context, DeletionKind.PHYSICAL)
    await invitations.request_invitations(session, meeting, final, previous, context, deleted=True)


def check_privacy_change(meeting: Meeting, body: MeetingPatch, caller: Caller) -> None:
    """Privacy is the owner's choice (ADR 10): a user taking part may edit a private meeting but
    not make it public, nor take it into another calendar; only the owner and the colleague who
    booked it may."""
    given = body.model_fields_set
    unhides = "private" in given and body.private is False and meeting.private
    moves = (
        "owner_user_id" in given
        and body.owner_user_id is not None
        and body.owner_user_id != meeting.owner_user_id
        and meeting.private
    )
    if (unhides or moves) and caller.user_id not in (
        meeting.owner_user_id,
        meeting.booked_by_user_id,
    ):
        raise Forbidden(
            "only the owner of a private meeting or the colleague who booked it may make it "
            "public or move it to another calendar"
        )
