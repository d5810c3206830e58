"""Request and response bodies of /meetings. Unknown fields are refused (422 naming them)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from calsync_contracts.meeting import CustomValue, MeetingSnapshot, MeetingStatus
from crm_api.schemas.types import CrmDate, CrmDatetime

Text = Annotated[str, Field(max_length=500)]
LongText = Annotated[str, Field(max_length=20_000)]
FormattedText = Annotated[
    str | None,
    Field(
        default=None,
        max_length=50_000,
        description="The description formatted (HTML from the meeting form's editor). It is "
        "sanitised, and `description` becomes its plain text; a plain `description` alone "
        "clears it.",
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParticipantIn(Strict):
    kind: Literal["user", "person", "organisation", "external"]
    id: uuid.UUID | None = Field(default=None, description="Required unless kind is external.")
    email: Annotated[str, Field(max_length=320)] | None = Field(
        default=None, description="For external attendees only."
    )
    name: Annotated[str, Field(max_length=200)] = ""


class MeetingTimeIn(Strict):
    all_day: bool = False
    start: CrmDatetime | None = Field(default=None, description="Timed meetings: with offset.")
    end: CrmDatetime | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="IANA zone the meeting is planned in, e.g. Europe/Copenhagen."
    )
    start_date: CrmDate | None = Field(default=None, description="All-day meetings.")
    end_date: CrmDate | None = Field(
        default=None, description="All-day: EXCLUSIVE end date; defaults to the day after start."
    )


class MeetingCreate(MeetingTimeIn):
    subject: Annotated[str, Field(min_length=1, max_length=500)]
    location: Text = ""
    description: LongText = ""
    description_html: FormattedText = None
    owner_user_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "Whose calendar holds the meeting (default: you). Another user's id books on their "
            "behalf: the meeting goes to their calendar, not yours."
        ),
    )
    meeting_type_id: uuid.UUID | None = None
    private: bool = False
    status: MeetingStatus = MeetingStatus.CONFIRMED
    participants: Annotated[list[ParticipantIn], Field(max_length=500)] = []
    custom_fields: dict[Annotated[str, Field(max_length=64)], CustomValue] = {}
    send_invitations: bool = Field(
        default=False, description="'Save and send invitations' (true) or 'save without sending'."
    )
    template_id: uuid.UUID | None = Field(
        default=None, description="The email template of the invitations (type synced meeting)."
    )
    invitation_subject: Annotated[str, Field(max_length=500)] | None = Field(
        default=None, description="The invitation's subject as edited here (merge codes)."
    )
    invitation_body: Annotated[str, Field(max_length=100_000)] | None = Field(
        default=None, description="The invitation's text as edited here ('edit template' mode)."
    )
    recurrence: Any = Field(
        default=None,
        description="Always refused: series are created in the user's own calendar program.",
    )


class MeetingPatch(Strict):
    subject: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    location: Text | None = None
    description: LongText | None = None
    description_html: FormattedText = None
    owner_user_id: uuid.UUID | None = None
    meeting_type_id: uuid.UUID | None = None
    all_day: bool | None = None
    start: CrmDatetime | None = None
    end: CrmDatetime | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    start_date: CrmDate | None = None
    end_date: CrmDate | None = None
    private: bool | None = None
    status: MeetingStatus | None = None
    participants: Annotated[list[ParticipantIn], Field(max_length=500)] | None = None
    custom_fields: dict[Annotated[str, Field(max_length=64)], CustomValue] | None = None
    send_invitations: bool = False
    template_id: uuid.UUID | None = Field(
        default=None, description="The email template of the invitations (type synced meeting)."
    )
    invitation_subject: Annotated[str, Field(max_length=500)] | None = Field(
        default=None, description="The invitation's subject as edited here (merge codes)."
    )
    invitation_body: Annotated[str, Field(max_length=100_000)] | None = Field(
        default=None, description="The invitation's text as edited here ('edit template' mode)."
    )
    recurrence: Any = Field(default=None, description="Always refused (series are read-only).")


class MeetingPage(BaseModel):
    items: list[MeetingSnapshot]
    total: int
    limit: int
    offset: int
