"""Use cases of the directory: users, organisations, persons, meeting types and custom field
definitions of one tenant.

Every query filters on the caller's ``tenant_id``: another tenant's id is indistinguishable
from a missing one (``NotFound``). Functions flush but do not commit: the caller's
``session.begin()`` block is the transaction. Field values arrive already validated by the
HTTP schemas (``entrypoints.http.schemas_directory``) as plain mappings, so the seed script and
other callers can use the same functions.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.adapters.orm import (
    CustomFieldDefinition,
    Meeting,
    MeetingType,
    Organisation,
    Person,
    User,
)
from crm_api.errors import Conflict, Invalid, NotFound
from crm_api.service_layer.connections import user_zone_changed

MAX_PAGE = 200

Row = TypeVar("Row", User, Organisation, Person, MeetingType, CustomFieldDefinition)

_WHAT: dict[type[Any], str] = {
    User: "user",
    Organisation: "organisation",
    Person: "person",
    MeetingType: "meeting type",
    CustomFieldDefinition: "custom field",
}
_ORDER: dict[type[Any], Any] = {
    User: User.name,
    Organisation: Organisation.name,
    Person: Person.name,
    MeetingType: MeetingType.name,
    CustomFieldDefinition: CustomFieldDefinition.key,
}


# --- generic tenant-scoped access ----------------------------------------------------------


async def get(
    session: AsyncSession, model: type[Row], tenant_id: uuid.UUID, row_id: uuid.UUID
) -> Row:
    """The row of ``model`` with ``row_id`` in the tenant, else ``NotFound``."""
    row = await session.scalar(
        select(model).where(model.tenant_id == tenant_id, model.id == row_id)
    )
    if row is None:
        raise NotFound(_WHAT[model])
    return row


async def page(
    session: AsyncSession,
    model: type[Row],
    tenant_id: uuid.UUID,
    limit: int,
    offset: int,
    *where: ColumnElement[bool],
) -> tuple[list[Row], int]:
    """One page of the tenant's rows ordered by name (users, organisations, persons, meeting
    types) or key (custom fields), and the total count."""
    conditions = (model.tenant_id == tenant_id, *where)
    total = await session.scalar(select(func.count()).select_from(model).where(*conditions))
    statement = (
        select(model)
        .where(*conditions)
        .order_by(_ORDER[model], model.id)
        .limit(max(1, min(limit, MAX_PAGE)))
        .offset(max(0, offset))
    )
    rows = list((await session.scalars(statement)).all())
    return rows, int(total or 0)


async def delete(
    session: AsyncSession, model: type[Row], tenant_id: uuid.UUID, row_id: uuid.UUID
) -> None:
    row = await get(session, model, tenant_id, row_id)
    await session.delete(row)
    await _flush(session, f"the {_WHAT[model]} is still referenced and cannot be deleted")


def _apply(row: Row, values: Mapping[str, Any]) -> Row:
    for name, value in values.items():
        setattr(row, name, value)
    return row


async def _flush(session: AsyncSession, conflict_message: str) -> None:
    """Flush; a uniqueness or reference violation that a check missed (a concurrent request)
    is a ``Conflict``, not a 500."""
    try:
        await session.flush()
    except IntegrityError as error:
        raise Conflict(conflict_message) from error


# --- users ---------------------------------------------------------------------------------


async def _require_unique_email(
    session: AsyncSession, tenant_id: uuid.UUID, email: str, except_id: uuid.UUID | None = None
) -> None:
    statement = select(User.id).where(
        User.tenant_id == tenant_id, func.lower(User.email) == email.lower()
    )
    if except_id is not None:
        statement = statement.where(User.id != except_id)
    if await session.scalar(statement.limit(1)) is not None:
        raise Conflict(f"a user with email {email} already exists in this tenant")


async def _require_another_admin(session: AsyncSession, user: User, action: str) -> None:
    others = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.tenant_id == user.tenant_id, User.is_admin.is_(True), User.id != user.id)
    )
    if not others:
        raise Conflict(f"cannot {action} the tenant's last administrator")


USER_COLOURS = (
    "#3366cc", "#dc3912", "#109618", "#990099", "#0099c6", "#dd4477",
    "#66aa00", "#b82e2e", "#316395", "#994499", "#22aa99", "#aaaa11",
)  # fmt: skip
"""Distinct colours that keep white text readable: a new user gets the one fewest have."""


async def create_user(
    session: AsyncSession, tenant_id: uuid.UUID, values: Mapping[str, Any]
) -> User:
    await _require_unique_email(session, tenant_id, str(values["email"]))
    if values.get("display_colour") is None:
        values = {**values, "display_colour": await _free_colour(session, tenant_id)}
    user = _apply(User(id=uuid.uuid4(), tenant_id=tenant_id), values)
    session.add(user)
    await _flush(session, f"a user with email {values['email']} already exists in this tenant")
    await session.refresh(user)
    return user


async def _free_colour(session: AsyncSession, tenant_id: uuid.UUID) -> str:
    rows = await session.execute(
        select(User.display_colour, func.count())
        .where(User.tenant_id == tenant_id)
        .group_by(User.display_colour)
    )
    taken = {str(colour).lower(): int(count) for colour, count in rows.all()}
    return min(USER_COLOURS, key=lambda colour: taken.get(colour, 0))


async def update_user(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, changes: Mapping[str, Any]
) -> User:
    user = await get(session, User, tenant_id, user_id)
    if "email" in changes:
        await _require_unique_email(session, tenant_id, str(changes["email"]), except_id=user.id)
    if changes.get("is_admin") is False and user.is_admin:
        await _require_another_admin(session, user, "demote")
    moved = "time_zone" in changes and changes["time_zone"] != user.time_zone
    _apply(user, changes)
    await _flush(session, f"a user with email {user.email} already exists in this tenant")
    if moved:
        await user_zone_changed(session, user.id)
    await session.refresh(user)
    return user


async def delete_user(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Refused (409) while the user owns or booked meetings, or is the last administrator."""
    user = await get(session, User, tenant_id, user_id)
    owned = await session.scalar(
        select(func.count())
        .select_from(Meeting)
        .where(Meeting.tenant_id == tenant_id, Meeting.owner_user_id == user.id)
    )
    if owned:
        raise Conflict(
            f"the user owns {owned} meeting(s); reassign them to another user or delete them "
            "before deleting the user"
        )
    booked = await session.scalar(
        select(func.count())
        .select_from(Meeting)
        .where(Meeting.tenant_id == tenant_id, Meeting.booked_by_user_id == user.id)
    )
    if booked:
        raise Conflict(
            f"the user booked {booked} meeting(s) on other users' behalf; those meetings "
            "still refer to them, so the user cannot be deleted"
        )
    if user.is_admin:
        await _require_another_admin(session, user, "delete")
    await session.delete(user)
    await _flush(session, "the user is still referenced and cannot be deleted")


# --- organisations -------------------------------------------------------------------------


async def create_organisation(
    session: AsyncSession, tenant_id: uuid.UUID, values: Mapping[str, Any]
) -> Organisation:
    organisation = _apply(Organisation(id=uuid.uuid4(), tenant_id=tenant_id), values)
    session.add(organisation)
    await _flush(session, "the organisation conflicts with an existing one")
    await session.refresh(organisation)
    return organisation


async def update_organisation(
    session: AsyncSession, tenant_id: uuid.UUID, row_id: uuid.UUID, changes: Mapping[str, Any]
) -> Organisation:
    organisation = _apply(await get(session, Organisation, tenant_id, row_id), changes)
    await _flush(session, "the organisation conflicts with an existing one")
    await session.refresh(organisation)
    return organisation


# --- persons -------------------------------------------------------------------------------


async def _require_organisation(
    session: AsyncSession, tenant_id: uuid.UUID, organisation_id: uuid.UUID | None
) -> None:
    if organisation_id is None:
        return
    found = await session.scalar(
        select(Organisation.id).where(
            Organisation.tenant_id == tenant_id, Organisation.id == organisation_id
        )
    )
    if found is None:
        raise Invalid(("organisation_id",), "no organisation with this id in your tenant")


async def create_person(
    session: AsyncSession, tenant_id: uuid.UUID, values: Mapping[str, Any]
) -> Person:
    await _require_organisation(session, tenant_id, values.get("organisation_id"))
    person = _apply(Person(id=uuid.uuid4(), tenant_id=tenant_id), values)
    session.add(person)
    await _flush(session, "the person conflicts with an existing one")
    await session.refresh(person)
    return person


async def update_person(
    session: AsyncSession, tenant_id: uuid.UUID, row_id: uuid.UUID, changes: Mapping[str, Any]
) -> Person:
    person = await get(session, Person, tenant_id, row_id)
    if "organisation_id" in changes:
        await _require_organisation(session, tenant_id, changes["organisation_id"])
    _apply(person, changes)
    await _flush(session, "the person conflicts with an existing one")
    await session.refresh(person)
    return person


def persons_filter(organisation_id: uuid.UUID | None, q: str | None) -> list[ColumnElement[bool]]:
    """Extra conditions of the person list: by organisation, by text in name or email."""
    conditions: list[ColumnElement[bool]] = []
    if organisation_id is not None:
        conditions.append(Person.organisation_id == organisation_id)
    if q:
        pattern = f"%{_escape_like(q)}%"
        conditions.append(
            or_(Person.name.ilike(pattern, escape="\\"), Person.email.ilike(pattern, escape="\\"))
        )
    return conditions


def name_filter(model: type[User] | type[Organisation], q: str | None) -> list[ColumnElement[bool]]:
    """The user or organisation list by text in the name (the type-ahead of the meeting form)."""
    return [model.name.ilike(f"%{_escape_like(q)}%", escape="\\")] if q else []


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- meeting types -------------------------------------------------------------------------


async def create_meeting_type(
    session: AsyncSession, tenant_id: uuid.UUID, values: Mapping[str, Any]
) -> MeetingType:
    meeting_type = _apply(MeetingType(id=uuid.uuid4(), tenant_id=tenant_id), values)
    session.add(meeting_type)
    await _flush(session, "the meeting type conflicts with an existing one")
    await session.refresh(meeting_type)
    return meeting_type


async def update_meeting_type(
    session: AsyncSession, tenant_id: uuid.UUID, row_id: uuid.UUID, changes: Mapping[str, Any]
) -> MeetingType:
    meeting_type = _apply(await get(session, MeetingType, tenant_id, row_id), changes)
    await _flush(session, "the meeting type conflicts with an existing one")
    await session.refresh(meeting_type)
    return meeting_type


# --- custom field definitions --------------------------------------------------------------


def _check_choices(field_type: str, choices: list[str]) -> None:
    if field_type == "choice" and not choices:
        raise Invalid(("choices",), "a choice field needs at least one choice")
    if field_type != "choice" and choices:
        raise Invalid(("choices",), "only fields of type choice have choices")
    if len(set(choices)) != len(choices):
        raise Invalid(("choices",), "choices must be distinct")


async def _require_unique_key(session: AsyncSession, tenant_id: uuid.UUID, key: str) -> None:
    found = await session.scalar(
        select(CustomFieldDefinition.id).where(
            CustomFieldDefinition.tenant_id == tenant_id, CustomFieldDefinition.key == key
        )
    )
    if found is not None:
        raise Conflict(f"a custom field with key {key} already exists in this tenant")


async def create_custom_field(
    session: AsyncSession, tenant_id: uuid.UUID, values: Mapping[str, Any]
) -> CustomFieldDefinition:
    choices = list(values.get("choices") or [])
    _check_choices(str(values["type"]), choices)
    await _require_unique_key(session, tenant_id, str(values["key"]))
    definition = _apply(
        CustomFieldDefinition(id=uuid.uuid4(), tenant_id=tenant_id),
        {**values, "choices": choices},
    )
    session.add(definition)
    await _flush(session, f"a custom field with key {values['key']} already exists in this tenant")
    await session.refresh(definition)
    return definition


async def update_custom_field(
    session: AsyncSession, tenant_id: uuid.UUID, row_id: uuid.UUID, changes: Mapping[str, Any]
) -> CustomFieldDefinition:
    """Changing the type away from ``choice`` drops the choices unless new ones are sent."""
    definition = await get(session, CustomFieldDefinition, tenant_id, row_id)
    values = dict(changes)
    field_type = str(values.get("type", definition.type))
    if "choices" not in values and field_type != "choice":
        values["choices"] = []
    choices = list(values.get("choices", definition.choices))
    _check_choices(field_type, choices)
    if "choices" in values:
        values["choices"] = choices
    _apply(definition, values)
    await _flush(session, "the custom field conflicts with an existing one")
    await session.refresh(definition)
    return definition
