"""Email templates of type "synced meeting": stored per tenant, checked on every save (a merge
code must never reach a recipient raw), previewed with a real meeting or a sample."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from calsync_invitations.fields import CUSTOM_PREFIX, MEETING_FIELDS
from calsync_invitations.message import DEFAULT_BODY, DEFAULT_SUBJECTS, meeting_values
from calsync_invitations.templates import TemplateProblem, check, merge_context, render, text_of
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from calsync_contracts.events import (
    InvitationMethod,
    InvitationRequest,
    InvitationTemplate,
    Recipient,
)
from calsync_contracts.meeting import MeetingSnapshot, Participant, ParticipantKind, TimedSpan
from crm_api.adapters.orm import EmailTemplate
from crm_api.errors import Invalid, NotFound


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    html: str
    text: str


def check_text(subject: str, body: str, where: tuple[str, ...] = ("body",)) -> None:
    """Raises 422 naming the request field and the merge field at fault."""
    for name, source in (("subject", subject), ("body", body)):
        field = _field_name(where, name)
        try:
            check(source)
        except TemplateProblem as problem:
            loc = ("body", field, problem.field) if problem.field else ("body", field)
            raise Invalid(loc, str(problem)) from None


def _field_name(where: tuple[str, ...], name: str) -> str:
    """``subject``/``body`` of a template; ``invitation_subject``/``invitation_body`` of a
    meeting (``where`` names the prefix)."""
    prefix = where[0] if where and where[0] != "body" else ""
    return f"{prefix}{name}"


async def get_template(
    session: AsyncSession, tenant_id: uuid.UUID, template_id: uuid.UUID
) -> EmailTemplate:
    found = await session.get(EmailTemplate, template_id)
    if found is None or found.tenant_id != tenant_id:
        raise NotFound("email template")  # another tenant's template: not revealed
    return found


async def list_templates(
    session: AsyncSession, tenant_id: uuid.UUID, language: str | None, area: str | None
) -> list[EmailTemplate]:
    statement = select(EmailTemplate).where(EmailTemplate.tenant_id == tenant_id)
    if language:
        statement = statement.where(EmailTemplate.language == language)
    if area:
        statement = statement.where(EmailTemplate.areas.contains([area]))
    rows = (await session.execute(statement.order_by(EmailTemplate.name))).scalars()
    return list(rows)


def invitation_template(
    template: EmailTemplate | None, subject: str | None, body: str | None
) -> InvitationTemplate | None:
    """The meeting's own edited text wins over its template; neither: the default text."""
    if body is not None or subject is not None:
        return InvitationTemplate(
            template_id=template.id if template else None,
            subject=subject if subject is not None else (template.subject if template else ""),
            body=body if body is not None else (template.body if template else DEFAULT_BODY),
        )
    if template is None:
        return None
    return InvitationTemplate(template_id=template.id, subject=template.subject, body=template.body)


def preview(
    subject: str,
    body: str,
    meeting: MeetingSnapshot | None,
    language: str,
    timezone: str,
) -> Rendered:
    """The mail as one recipient would read it (a sample meeting when none is given)."""
    shown = meeting or sample_meeting()
    recipient = Recipient(
        email="recipient@example.com", name="Recipient", language=language, timezone=timezone
    )
    request = InvitationRequest(
        meeting_id=shown.id,
        meeting_version=shown.version,
        method=InvitationMethod.REQUEST,
        recipients=[recipient],
        meeting=shown,
    )
    values = meeting_values(request, recipient)
    context = merge_context(values, {"name": recipient.name, "email": recipient.email})
    html = render(body or DEFAULT_BODY, context, html=True)
    title = render(subject or DEFAULT_SUBJECTS[InvitationMethod.REQUEST], context, html=False)
    return Rendered(" ".join(title.split()), html, text_of(html))


def sample_meeting() -> MeetingSnapshot:
    start = (datetime.now(UTC) + timedelta(days=7)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    return MeetingSnapshot(
        id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        ical_uid="sample@calsync",
        version=1,
        owner_user_id=uuid.uuid4(),
        subject="Quarterly review",
        location="Meeting room 2",
        description="Agenda: results, next quarter.",
        time=TimedSpan(start=start, end=start + timedelta(hours=1), timezone="UTC"),
        participants=[
            Participant(kind=ParticipantKind.ORGANISATION, name="Acme Ltd"),
            Participant(kind=ParticipantKind.PERSON, name="Ann Example", email="ann@example.com"),
        ],
    )


def merge_fields() -> dict[str, str]:
    """Every merge code and what it shows (for the template editor)."""
    return {**MEETING_FIELDS, f"{CUSTOM_PREFIX}<key>": "A custom field of the meeting"}
