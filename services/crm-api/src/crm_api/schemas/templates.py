"""Request and response bodies of /email-templates. Unknown fields are refused (422)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from babel import Locale, UnknownLocaleError
from pydantic import AfterValidator, BaseModel, Field

from crm_api.schemas.meetings import Strict

Name = Annotated[str, Field(min_length=1, max_length=200)]
LANGUAGE_TAG = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"  # BCP 47, as Babel reads it


def _known_language(value: str) -> str:
    try:
        Locale.parse(value.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"unknown language {value!r}") from None
    return value


Language = Annotated[
    str,
    Field(min_length=2, max_length=16, pattern=LANGUAGE_TAG),
    AfterValidator(_known_language),
]
Area = Annotated[str, Field(min_length=1, max_length=64)]
SubjectText = Annotated[str, Field(max_length=500)]
BodyText = Annotated[str, Field(max_length=100_000)]


class TemplateIn(Strict):
    name: Name
    description: Annotated[str, Field(max_length=2000)] = ""
    language: Language = "en"
    areas: Annotated[list[Area], Field(max_length=50)] = Field(
        default_factory=list, description="Where the template is offered (e.g. sales, support)."
    )
    subject: SubjectText = Field(description="Mail subject, with merge codes.")
    body: BodyText = Field(description="HTML with merge codes, e.g. {{ meeting.subject }}.")


class TemplatePatch(Strict):
    name: Name | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    language: Language | None = None
    areas: Annotated[list[Area], Field(max_length=50)] | None = None
    subject: SubjectText | None = None
    body: BodyText | None = None


class TemplateOut(BaseModel):
    id: uuid.UUID
    type: str
    name: str
    description: str
    language: str
    areas: list[str]
    subject: str
    body: str
    version: int
    updated_at: datetime


class TemplateEditOut(BaseModel):
    """ "Edit template" mode: the text with its merge fields as codes, which the user may edit
    in the meeting form (sent back as the meeting's ``invitation_subject``/``invitation_body``)
    and which are merged when the invitation is sent."""

    template_id: uuid.UUID
    subject: str
    body: str
    merge_fields: dict[str, str] = Field(description="Every merge code and what it shows.")


class PreviewIn(Strict):
    meeting_id: uuid.UUID | None = Field(
        default=None, description="Preview with this meeting; a sample meeting when absent."
    )
    language: Language = "en"
    timezone: Annotated[str, Field(max_length=64)] = "UTC"


class TextPreviewIn(PreviewIn):
    subject: SubjectText
    body: BodyText


class PreviewOut(BaseModel):
    subject: str
    html: str
    text: str
