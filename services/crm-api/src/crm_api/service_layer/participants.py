"""Participants: CRM references checked against the tenant, and provider attendees (emails)
matched back to CRM users and persons."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from calsync_contracts.meeting import Participant, ParticipantKind, ResponseStatus
from crm_api.adapters.orm import Organisation, Person, User
from crm_api.errors import Invalid


class ParticipantRef(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def id(self) -> uuid.UUID | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def name(self) -> str: ...


async def resolve_participants(
    session: AsyncSession, tenant_id: uuid.UUID, refs: Sequence[ParticipantRef]
) -> list[Participant]:
    """Each reference must exist in the tenant; a wrong one is a 422 naming its index."""
    resolved: list[Participant] = []
    for index, ref in enumerate(refs):
        loc: tuple[str | int, ...] = ("participants", index)
        if ref.kind == ParticipantKind.EXTERNAL:
            if not ref.email or "@" not in ref.email:
                raise Invalid(
                    (*loc, "email"), "an external participant needs an email address", "missing"
                )
            resolved.append(
                Participant(kind=ParticipantKind.EXTERNAL, email=ref.email, name=ref.name)
            )
            continue
        if ref.id is None:
            raise Invalid((*loc, "id"), f"a {ref.kind} participant needs an id")
        resolved.append(await _lookup(session, tenant_id, ref.kind, ref.id, loc))
    _refuse_duplicates(resolved)
    return resolved


async def _lookup(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    kind: str,
    ref_id: uuid.UUID,
    loc: tuple[str | int, ...],
) -> Participant:
    row: User | Person | Organisation | None
    if kind == "user":
        row = await session.scalar(
            select(User).where(User.tenant_id == tenant_id, User.id == ref_id)
        )
    elif kind == "person":
        row = await session.scalar(
            select(Person).where(Person.tenant_id == tenant_id, Person.id == ref_id)
        )
    else:
        row = await session.scalar(
            select(Organisation).where(
                Organisation.tenant_id == tenant_id, Organisation.id == ref_id
            )
        )
    if row is None:
        raise Invalid((*loc, "id"), f"no {kind} {ref_id} in this tenant")
    email = getattr(row, "email", None)
    return Participant(kind=ParticipantKind(kind), id=row.id, name=row.name, email=email)


def _refuse_duplicates(participants: list[Participant]) -> None:
    seen: set[tuple[str, str]] = set()
    for index, p in enumerate(participants):
        key = (p.kind.value, str(p.id) if p.id else (p.email or "").lower())
        if key in seen:
            raise Invalid(
                ("participants", index), "this participant is listed twice", "duplicate_participant"
            )
        seen.add(key)


async def match_attendees(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    attendees: Sequence[dict[str, str]],
    keep: Sequence[Participant],
) -> list[Participant]:
    """Provider attendees (``{"email", "response"}``) → participants: the CRM's own
    participant with that email if the meeting had one, else a CRM user, else a person, else an
    external attendee. Participants without email (organisations) are kept as they are."""
    by_email = {p.email.lower(): p for p in keep if p.email}
    result = [p for p in keep if not p.email]
    for attendee in attendees:
        email = attendee["email"].lower()
        response = ResponseStatus(attendee["response"])
        known = by_email.get(email) or await _crm_record_by_email(session, tenant_id, email)
        result.append(
            known.model_copy(update={"response": response})
            if known
            else Participant(kind=ParticipantKind.EXTERNAL, email=email, response=response)
        )
    return result


async def _crm_record_by_email(
    session: AsyncSession, tenant_id: uuid.UUID, email: str
) -> Participant | None:
    user = await session.scalar(
        select(User).where(User.tenant_id == tenant_id, func.lower(User.email) == email)
    )
    if user is not None:
        return Participant(kind=ParticipantKind.USER, id=user.id, name=user.name, email=user.email)
    person = await session.scalar(
        select(Person)
        .where(Person.tenant_id == tenant_id, func.lower(Person.email) == email)
        .limit(1)
    )
    if person is not None:
        return Participant(
            kind=ParticipantKind.PERSON, id=person.id, name=person.name, email=person.email
        )
    return None
