"""Invitation requests, written to the outbox in the meeting's own transaction: the notifier
sends exactly what a committed meeting change asked for, and nothing for one rolled back.

Which mails (``domain.invitations``) is decided here, where the previous version, the owner's
connection and the recipients' languages are at hand; the request carries everything the
notifier needs to render and send without calling back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from calsync_contracts.events import (
    InvitationRequest,
    InvitationRequested,
    InvitationSender,
    MergeValues,
    Recipient,
)
from calsync_contracts.meeting import MeetingSnapshot, Participant, ParticipantKind
from calsync_platform.outbox import enqueue
from crm_api.adapters.orm import CalendarConnection, EmailTemplate, Meeting, User
from crm_api.domain.invitations import Mailing, Situation, plan_invitations
from crm_api.errors import Invalid, NotFound
from crm_api.service_layer.meetings import EventContext
from crm_api.service_layer.templates import check_text, get_template, invitation_template


async def choose_template(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    template_id: uuid.UUID | None,
    subject: str | None,
    body: str | None,
) -> None:
    """The meeting form's choice, checked like a template save (422 naming the field)."""
    if template_id is not None:
        try:
            await get_template(session, tenant_id, template_id)
        except NotFound:
            raise Invalid(("body", "template_id"), f"no email template {template_id}") from None
    check_text(subject or "", body or "", where=("invitation_",))


async def request_invitations(
    session: AsyncSession,
    row: Meeting,
    current: MeetingSnapshot,
    previous: MeetingSnapshot | None,
    context: EventContext,
    *,
    deleted: bool = False,
) -> int:
    """Adds the invitation requests this change causes to the outbox; returns how many."""
    if not context.send_invitations:
        return 0
    owner = await session.get(User, current.owner_user_id)
    if owner is None:
        return 0
    situation = Situation(
        previous,
        current,
        owner.email,
        deleted=deleted,
        send=True,
        provider_sends=await _provider_sends(session, owner),
    )
    mailings = plan_invitations(situation, datetime.now(UTC))
    for mailing in mailings:
        request = await _request(session, row, current, owner, mailing, deleted)
        await enqueue(
            session, InvitationRequested(**context.envelope(current.tenant_id), payload=request)
        )
    return len(mailings)


async def _request(
    session: AsyncSession,
    row: Meeting,
    meeting: MeetingSnapshot,
    owner: User,
    mailing: Mailing,
    deleted: bool,
) -> InvitationRequest:
    people = await _people(session, meeting, owner)
    template_row = (
        await session.get(EmailTemplate, row.invitation_template_id)
        if row.invitation_template_id
        else None
    )
    booker = (
        await session.get(User, meeting.booked_by_user_id) if meeting.booked_by_user_id else None
    )
    return InvitationRequest(
        meeting_id=meeting.id,
        meeting_version=meeting.version,
        method=mailing.method,
        recipients=[people(p) for p in mailing.recipients],
        template_id=template_row.id if template_row else None,
        meeting=meeting,
        # A cancellation of the whole meeting is one more change of it (RFC 5546 §2.1.4).
        sequence=row.invitation_sequence + (1 if deleted else 0),
        organizer=_recipient(owner),
        sent_by=_recipient(booker) if booker else None,
        attendees=[people(p) for p in mailing.attendees],
        template=invitation_template(template_row, row.invitation_subject, row.invitation_body),
        merge=MergeValues(
            organisations=_names(meeting, ParticipantKind.ORGANISATION),
            persons=_names(meeting, ParticipantKind.PERSON),
            users=_names(meeting, ParticipantKind.USER),
            booked_by=booker.name if booker else "",
        ),
    )


async def _people(session: AsyncSession, meeting: MeetingSnapshot, owner: User) -> People:
    ids = [p.id for p in meeting.participants if p.kind is ParticipantKind.USER and p.id]
    users = (
        {u.id: u for u in (await session.execute(select(User).where(User.id.in_(ids)))).scalars()}
        if ids
        else {}
    )
    return People(users, owner)


class People:
    """A participant as a recipient: CRM users in their own language and time zone, everyone
    else in the organiser's."""

    def __init__(self, users: dict[uuid.UUID, User], owner: User) -> None:
        self.users, self.owner = users, owner

    def __call__(self, participant: Participant) -> Recipient:
        user = self.users.get(participant.id) if participant.id else None
        source = user or self.owner
        return Recipient(
            email=participant.email or "",
            name=participant.name,
            language=source.language,
            timezone=source.time_zone,
        )


def _recipient(user: User) -> Recipient:
    return Recipient(
        email=user.email, name=user.name, language=user.language, timezone=user.time_zone
    )


def _names(meeting: MeetingSnapshot, kind: ParticipantKind) -> list[str]:
    return [p.name for p in meeting.participants if p.kind is kind and p.name]


async def _provider_sends(session: AsyncSession, owner: User) -> bool:
    """The owner's calendar provider sends invitations itself: never both (Cal.com #7735)."""
    sender = await session.scalar(
        select(CalendarConnection.invitation_sender).where(
            CalendarConnection.tenant_id == owner.tenant_id,
            CalendarConnection.user_id == owner.id,
        )
    )
    return sender == InvitationSender.PROVIDER.value
