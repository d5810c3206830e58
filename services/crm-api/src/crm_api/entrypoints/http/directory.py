"""The directory: /me, /users, /organisations, /persons, /meeting-types, /custom-fields.

Reads: any caller of the tenant. Writes of users, meeting types and custom fields: admins only;
organisations and persons: any caller. Another tenant's id answers 404, like a missing one.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from crm_api.adapters.orm import CustomFieldDefinition, MeetingType, Organisation, Person, User
from crm_api.entrypoints.http.deps import AdminDep, CallerDep, SessionDep
from crm_api.entrypoints.http.schemas_directory import (
    CustomFieldCreate,
    CustomFieldOut,
    CustomFieldPage,
    CustomFieldPatch,
    MeetingTypeCreate,
    MeetingTypeOut,
    MeetingTypePage,
    MeetingTypePatch,
    MyPatch,
    OrganisationCreate,
    OrganisationOut,
    OrganisationPage,
    OrganisationPatch,
    PersonCreate,
    PersonOut,
    PersonPage,
    PersonPatch,
    UserCreate,
    UserOut,
    UserPage,
    UserPatch,
)
from crm_api.service_layer import directory

Limit = Annotated[int, Query(ge=1, le=directory.MAX_PAGE, description="Page size (max 200)")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
NO_CONTENT = status.HTTP_204_NO_CONTENT
CREATED = status.HTTP_201_CREATED

router = APIRouter()
me = APIRouter(tags=["users"])
users = APIRouter(prefix="/users", tags=["users"])
organisations = APIRouter(prefix="/organisations", tags=["organisations"])
persons = APIRouter(prefix="/persons", tags=["persons"])
meeting_types = APIRouter(prefix="/meeting-types", tags=["meeting types"])
custom_fields = APIRouter(prefix="/custom-fields", tags=["custom fields"])


def _located(response: Response, path: str) -> None:
    response.headers["Location"] = path


# --- /me -----------------------------------------------------------------------------------


@me.get("/me", summary="The calling user")
async def get_me(caller: CallerDep, session: SessionDep) -> UserOut:
    return UserOut.model_validate(
        await directory.get(session, User, caller.tenant_id, caller.user_id)
    )


@me.patch("/me", summary="Change your own language, time zone or display colour")
async def patch_me(body: MyPatch, caller: CallerDep, session: SessionDep) -> UserOut:
    async with session.begin():
        user = await directory.update_user(
            session, caller.tenant_id, caller.user_id, body.changes()
        )
    return UserOut.model_validate(user)


# --- /users --------------------------------------------------------------------------------


NameQuery = Annotated[str | None, Query(max_length=200, description="Text in the name")]


@users.get("", summary="List users")
async def list_users(
    caller: CallerDep,
    session: SessionDep,
    q: NameQuery = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> UserPage:
    where = directory.name_filter(User, q)
    rows, total = await directory.page(session, User, caller.tenant_id, limit, offset, *where)
    items = [UserOut.model_validate(row) for row in rows]
    return UserPage(items=items, total=total, limit=limit, offset=offset)


@users.post("", status_code=CREATED, summary="Create a user (admins)")
async def create_user(
    body: UserCreate, caller: AdminDep, session: SessionDep, response: Response
) -> UserOut:
    async with session.begin():
        user = await directory.create_user(session, caller.tenant_id, body.model_dump())
    _located(response, f"/users/{user.id}")
    return UserOut.model_validate(user)


@users.get("/{user_id}", summary="Read a user")
async def get_user(user_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> UserOut:
    return UserOut.model_validate(await directory.get(session, User, caller.tenant_id, user_id))


@users.patch("/{user_id}", summary="Change a user (admins)")
async def patch_user(
    user_id: uuid.UUID, body: UserPatch, caller: AdminDep, session: SessionDep
) -> UserOut:
    async with session.begin():
        user = await directory.update_user(session, caller.tenant_id, user_id, body.changes())
    return UserOut.model_validate(user)


@users.delete(
    "/{user_id}",
    status_code=NO_CONTENT,
    summary="Delete a user (admins); 409 while they own meetings",
)
async def delete_user(user_id: uuid.UUID, caller: AdminDep, session: SessionDep) -> None:
    async with session.begin():
        await directory.delete_user(session, caller.tenant_id, user_id)


# --- /organisations ------------------------------------------------------------------------


@organisations.get("", summary="List organisations")
async def list_organisations(
    caller: CallerDep,
    session: SessionDep,
    q: NameQuery = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> OrganisationPage:
    where = directory.name_filter(Organisation, q)
    rows, total = await directory.page(
        session, Organisation, caller.tenant_id, limit, offset, *where
    )
    items = [OrganisationOut.model_validate(row) for row in rows]
    return OrganisationPage(items=items, total=total, limit=limit, offset=offset)


@organisations.post("", status_code=CREATED, summary="Create an organisation")
async def create_organisation(
    body: OrganisationCreate, caller: CallerDep, session: SessionDep, response: Response
) -> OrganisationOut:
    async with session.begin():
        row = await directory.create_organisation(session, caller.tenant_id, body.model_dump())
    _located(response, f"/organisations/{row.id}")
    return OrganisationOut.model_validate(row)


@organisations.get("/{organisation_id}", summary="Read an organisation")
async def get_organisation(
    organisation_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> OrganisationOut:
    row = await directory.get(session, Organisation, caller.tenant_id, organisation_id)
    return OrganisationOut.model_validate(row)


@organisations.patch("/{organisation_id}", summary="Change an organisation")
async def patch_organisation(
    organisation_id: uuid.UUID, body: OrganisationPatch, caller: CallerDep, session: SessionDep
) -> OrganisationOut:
    async with session.begin():
        row = await directory.update_organisation(
            session, caller.tenant_id, organisation_id, body.changes()
        )
    return OrganisationOut.model_validate(row)


@organisations.delete(
    "/{organisation_id}",
    status_code=NO_CONTENT,
    summary="Delete an organisation (its persons keep existing, without organisation)",
)
async def delete_organisation(
    organisation_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> None:
    async with session.begin():
        await directory.delete(session, Organisation, caller.tenant_id, organisation_id)


# --- /persons ------------------------------------------------------------------------------


@persons.get("", summary="List persons")
async def list_persons(
    caller: CallerDep,
    session: SessionDep,
    organisation_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in name or email")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PersonPage:
    where = directory.persons_filter(organisation_id, q)
    rows, total = await directory.page(session, Person, caller.tenant_id, limit, offset, *where)
    items = [PersonOut.model_validate(row) for row in rows]
    return PersonPage(items=items, total=total, limit=limit, offset=offset)


@persons.post("", status_code=CREATED, summary="Create a person")
async def create_person(
    body: PersonCreate, caller: CallerDep, session: SessionDep, response: Response
) -> PersonOut:
    async with session.begin():
        row = await directory.create_person(session, caller.tenant_id, body.model_dump())
    _located(response, f"/persons/{row.id}")
    return PersonOut.model_validate(row)


@persons.get("/{person_id}", summary="Read a person")
async def get_person(person_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> PersonOut:
    return PersonOut.model_validate(
        await directory.get(session, Person, caller.tenant_id, person_id)
    )


@persons.patch("/{person_id}", summary="Change a person")
async def patch_person(
    person_id: uuid.UUID, body: PersonPatch, caller: CallerDep, session: SessionDep
) -> PersonOut:
    async with session.begin():
        row = await directory.update_person(session, caller.tenant_id, person_id, body.changes())
    return PersonOut.model_validate(row)


@persons.delete("/{person_id}", status_code=NO_CONTENT, summary="Delete a person")
async def delete_person(person_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> None:
    async with session.begin():
        await directory.delete(session, Person, caller.tenant_id, person_id)


# --- /meeting-types ------------------------------------------------------------------------


@meeting_types.get("", summary="List meeting types")
async def list_meeting_types(
    caller: CallerDep, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> MeetingTypePage:
    rows, total = await directory.page(session, MeetingType, caller.tenant_id, limit, offset)
    items = [MeetingTypeOut.model_validate(row) for row in rows]
    return MeetingTypePage(items=items, total=total, limit=limit, offset=offset)


@meeting_types.post("", status_code=CREATED, summary="Create a meeting type (admins)")
async def create_meeting_type(
    body: MeetingTypeCreate, caller: AdminDep, session: SessionDep, response: Response
) -> MeetingTypeOut:
    async with session.begin():
        row = await directory.create_meeting_type(session, caller.tenant_id, body.model_dump())
    _located(response, f"/meeting-types/{row.id}")
    return MeetingTypeOut.model_validate(row)


@meeting_types.get("/{meeting_type_id}", summary="Read a meeting type")
async def get_meeting_type(
    meeting_type_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> MeetingTypeOut:
    row = await directory.get(session, MeetingType, caller.tenant_id, meeting_type_id)
    return MeetingTypeOut.model_validate(row)


@meeting_types.patch("/{meeting_type_id}", summary="Change a meeting type (admins)")
async def patch_meeting_type(
    meeting_type_id: uuid.UUID, body: MeetingTypePatch, caller: AdminDep, session: SessionDep
) -> MeetingTypeOut:
    async with session.begin():
        row = await directory.update_meeting_type(
            session, caller.tenant_id, meeting_type_id, body.changes()
        )
    return MeetingTypeOut.model_validate(row)


@meeting_types.delete(
    "/{meeting_type_id}",
    status_code=NO_CONTENT,
    summary="Delete a meeting type (admins); its meetings keep existing, without type",
)
async def delete_meeting_type(
    meeting_type_id: uuid.UUID, caller: AdminDep, session: SessionDep
) -> None:
    async with session.begin():
        await directory.delete(session, MeetingType, caller.tenant_id, meeting_type_id)


# --- /custom-fields ------------------------------------------------------------------------


@custom_fields.get("", summary="List custom field definitions")
async def list_custom_fields(
    caller: CallerDep, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> CustomFieldPage:
    rows, total = await directory.page(
        session, CustomFieldDefinition, caller.tenant_id, limit, offset
    )
    items = [CustomFieldOut.model_validate(row) for row in rows]
    return CustomFieldPage(items=items, total=total, limit=limit, offset=offset)


@custom_fields.post("", status_code=CREATED, summary="Define a custom field (admins)")
async def create_custom_field(
    body: CustomFieldCreate, caller: AdminDep, session: SessionDep, response: Response
) -> CustomFieldOut:
    async with session.begin():
        row = await directory.create_custom_field(session, caller.tenant_id, body.model_dump())
    _located(response, f"/custom-fields/{row.id}")
    return CustomFieldOut.model_validate(row)


@custom_fields.get("/{field_id}", summary="Read a custom field definition")
async def get_custom_field(
    field_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> CustomFieldOut:
    row = await directory.get(session, CustomFieldDefinition, caller.tenant_id, field_id)
    return CustomFieldOut.model_validate(row)


@custom_fields.patch(
    "/{field_id}", summary="Change a custom field definition (admins; the key is fixed)"
)
async def patch_custom_field(
    field_id: uuid.UUID, body: CustomFieldPatch, caller: AdminDep, session: SessionDep
) -> CustomFieldOut:
    async with session.begin():
        row = await directory.update_custom_field(
            session, caller.tenant_id, field_id, body.changes()
        )
    return CustomFieldOut.model_validate(row)


@custom_fields.delete(
    "/{field_id}",
    status_code=NO_CONTENT,
    summary="Delete a custom field definition (admins); meetings keep stored values",
)
async def delete_custom_field(field_id: uuid.UUID, caller: AdminDep, session: SessionDep) -> None:
    async with session.begin():
        await directory.delete(session, CustomFieldDefinition, caller.tenant_id, field_id)


for _sub in (me, users, organisations, persons, meeting_types, custom_fields):
    router.include_router(_sub)
