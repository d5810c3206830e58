"""The meeting as every service sees it: a full, self-contained snapshot.

Times are a tagged union so an all-day meeting can never be confused with a timed one (the most
reported sync bug: all-day events shifted by a day or turned into midnight-to-midnight events).
All-day spans use dates with an EXCLUSIVE end, as RFC 5545 §3.6.1 DTEND and Google's
``end.date`` do.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID
from zoneinfo import available_timezones

from pydantic import AwareDatetime, Field, field_validator, model_validator

from calsync_contracts.envelope import Frozen

CustomValue = str | int | float | bool | date | None


def _check_timezone(name: str) -> str:
    if name not in _TIMEZONES:
        raise ValueError(f"unknown IANA time zone {name!r}")
    return name


_TIMEZONES = frozenset(available_timezones()) | {"UTC"}


class TimedSpan(Frozen):
    kind: Literal["timed"] = "timed"
    start: AwareDatetime
    end: AwareDatetime
    timezone: str = Field(
        description="IANA zone the meeting was planned in (drives DST for series and display)."
    )

    _tz = field_validator("timezone")(_check_timezone)

    @model_validator(mode="after")
    def _end_after_start(self) -> TimedSpan:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class AllDaySpan(Frozen):
    kind: Literal["all_day"] = "all_day"
    start_date: date
    end_date: date = Field(description="Exclusive: a one-day meeting on 3 May ends on 4 May.")

    @model_validator(mode="after")
    def _end_after_start(self) -> AllDaySpan:
        if self.end_date <= self.start_date:
            raise ValueError("end_date (exclusive) must be after start_date")
        return self


MeetingTime = Annotated[TimedSpan | AllDaySpan, Field(discriminator="kind")]


class ParticipantKind(StrEnum):
    USER = "user"
    PERSON = "person"
    ORGANISATION = "organisation"
    EXTERNAL = "external"
    """An attendee known only by email (e.g. added in the provider, not matched to a CRM record)."""


class ResponseStatus(StrEnum):
    """RFC 5545 §3.2.12 PARTSTAT values for VEVENT attendees."""

    NEEDS_ACTION = "needs-action"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"


class Participant(Frozen):
    kind: ParticipantKind
    id: UUID | None = Field(default=None, description="CRM record id; None for external.")
    name: str = ""
    email: str | None = None
    response: ResponseStatus = ResponseStatus.NEEDS_ACTION


class MeetingStatus(StrEnum):
    """RFC 5545 §3.8.1.11 STATUS for VEVENT."""

    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class Recurrence(Frozen):
    """A series as the provider defines it (RFC 5545 §3.8.5). Read-only in the CRM."""

    rrule: list[str] = Field(default_factory=list, description="RRULE values, without 'RRULE:'.")
    rdates: list[AwareDatetime | date] = Field(default_factory=list)
    exdates: list[AwareDatetime | date] = Field(default_factory=list)


class MeetingSnapshot(Frozen):
    """Everything a consumer needs about a meeting at one version."""

    id: UUID
    tenant_id: UUID
    ical_uid: str = Field(description="Stable for the meeting's life; same on every provider.")
    version: int = Field(ge=1, description="Increases by one on every change of the meeting.")
    owner_user_id: UUID = Field(description="The user whose calendar holds the meeting.")
    booked_by_user_id: UUID | None = Field(
        default=None,
        description="Booked on behalf of the owner; not added to the booker's calendar.",
    )
    meeting_type_id: UUID | None = None
    subject: str
    location: str = ""
    description: str = Field(default="", description="Plain text: what providers receive.")
    description_html: str = Field(
        default="",
        description="The description as formatted in the CRM (sanitised HTML: paragraphs, "
        "bold, italic, underline, lists, links); empty when it is plain text, e.g. written in "
        "a calendar program.",
    )
    time: MeetingTime
    private: bool = False
    status: MeetingStatus = MeetingStatus.CONFIRMED
    participants: list[Participant] = Field(default_factory=list)
    custom_fields: dict[str, CustomValue] = Field(default_factory=dict)
    recurrence: Recurrence | None = None
    series_id: UUID | None = Field(
        default=None, description="For an edited occurrence: the series meeting it overrides."
    )
    recurrence_id: AwareDatetime | date | None = Field(
        default=None,
        description="Edited occurrence: its original start (RFC 5545 §3.8.4.4).",
    )
