"""Request and response bodies of the directory: users, organisations, persons, meeting types
and custom field definitions. Unknown fields are refused (422 naming them); PATCH bodies have
every field optional and change only the fields sent."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
)

Language = Literal["en", "da", "sv", "nl", "pl"]
FieldType = Literal["text", "number", "boolean", "date", "choice"]

Name = Annotated[str, Field(min_length=1, max_length=200)]
Email = Annotated[EmailStr, Field(max_length=320)]
Colour = Annotated[
    str, Field(pattern=r"^#[0-9a-fA-F]{6}$", description="`#rrggbb`", examples=["#1f77b4"])
]
FieldKey = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]{0,63}$",
        description="Lower-case identifier used in meetings' `custom_fields`.",
        examples=["deal_value"],
    ),
]
Choice = Annotated[str, Field(min_length=1, max_length=200)]
Choices = Annotated[list[Choice], Field(max_length=200)]


_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
"""Files of some tz databases that ``available_timezones()`` lists but that are not zones."""


@lru_cache(maxsize=1)
def _iana_zones() -> frozenset[str]:
    return frozenset(
        zone
        for zone in available_timezones()
        if zone not in _NOT_ZONES and not zone.startswith(("posix/", "right/"))
    )


def _iana_zone(value: str) -> str:
    if value not in _iana_zones():
        raise ValueError("must be an IANA time zone, e.g. Europe/Copenhagen")
    return value


TimeZone = Annotated[
    str,
    Field(max_length=64, description="IANA time zone", examples=["Europe/Copenhagen"]),
    AfterValidator(_iana_zone),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Patch(Strict):
    """A partial update. ``null`` is refused for fields that cannot be empty (``NULLABLE``
    lists those that can)."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _no_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.NULLABLE:
            raise ValueError("may not be null; leave the field out to keep its value")
        return value

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


ItemT = TypeVar("ItemT", bound=BaseModel)


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    total: int = Field(description="Matching rows in all pages.")
    limit: int
    offset: int


# --- users ---------------------------------------------------------------------------------


class UserCreate(Strict):
    name: Name
    email: Email
    time_zone: TimeZone = "UTC"
    language: Language = "en"
    display_colour: Colour | None = Field(
        default=None,
        description="Default: the first of the palette's colours the fewest colleagues have, "
        "so users shown side by side differ.",
    )
    is_admin: bool = False


class UserPatch(Patch):
    name: Name | None = None
    email: Email | None = None
    time_zone: TimeZone | None = None
    language: Language | None = None
    display_colour: Colour | None = None
    is_admin: bool | None = None


class MyPatch(Patch):
    """What users change of themselves: how the CRM speaks to them and shows them."""

    time_zone: TimeZone | None = None
    language: Language | None = None
    display_colour: Colour | None = None


class UserOut(Out):
    id: uuid.UUID
    name: str
    email: str
    time_zone: str
    language: str
    display_colour: str
    is_admin: bool
    created_at: datetime


# --- organisations -------------------------------------------------------------------------


class OrganisationCreate(Strict):
    name: Name


class OrganisationPatch(Patch):
    name: Name | None = None


class OrganisationOut(Out):
    id: uuid.UUID
    name: str
    created_at: datetime


# --- persons -------------------------------------------------------------------------------


class PersonCreate(Strict):
    name: Name
    email: Email | None = None
    organisation_id: uuid.UUID | None = Field(
        default=None, description="An organisation of your tenant."
    )


class PersonPatch(Patch):
    NULLABLE = frozenset({"email", "organisation_id"})
    name: Name | None = None
    email: Email | None = None
    organisation_id: uuid.UUID | None = None


class PersonOut(Out):
    id: uuid.UUID
    name: str
    email: str | None
    organisation_id: uuid.UUID | None
    created_at: datetime


# --- meeting types -------------------------------------------------------------------------


class MeetingTypeCreate(Strict):
    name: Name


class MeetingTypePatch(Patch):
    name: Name | None = None


class MeetingTypeOut(Out):
    id: uuid.UUID
    name: str
    created_at: datetime


# --- custom field definitions --------------------------------------------------------------


class CustomFieldCreate(Strict):
    key: FieldKey
    label: Name
    type: FieldType
    choices: Choices = Field(
        default_factory=list, description="Required (non-empty) if and only if type is choice."
    )
    required: bool = False


class CustomFieldPatch(Patch):
    """The key cannot change: meetings store their values under it."""

    label: Name | None = None
    type: FieldType | None = None
    choices: Choices | None = None
    required: bool | None = None


class CustomFieldOut(Out):
    id: uuid.UUID
    key: str
    label: str
    type: str
    choices: list[str]
    required: bool
    created_at: datetime


class UserPage(Page[UserOut]):
    """A page of User records (a named class so the API docs show a readable name)."""


class OrganisationPage(Page[OrganisationOut]):
    """A page of Organisation records (a named class so the API docs show a readable name)."""


class PersonPage(Page[PersonOut]):
    """A page of Person records (a named class so the API docs show a readable name)."""


class MeetingTypePage(Page[MeetingTypeOut]):
    """A page of MeetingType records (a named class so the API docs show a readable name)."""


class CustomFieldPage(Page[CustomFieldOut]):
    """A page of CustomField records (a named class so the API docs show a readable name)."""
