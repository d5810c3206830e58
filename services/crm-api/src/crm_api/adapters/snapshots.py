"""ORM rows ⇄ contract snapshots. The snapshot is what events carry and what the API returns."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from calsync_contracts.meeting import (
    AllDaySpan,
    MeetingSnapshot,
    MeetingStatus,
    MeetingTime,
    Participant,
    Recurrence,
    TimedSpan,
)
from crm_api.adapters.orm import Meeting, MeetingParticipant


def meeting_time(meeting: Meeting) -> MeetingTime:
    if meeting.all_day:
        assert meeting.start_date is not None
        assert meeting.end_date is not None
        return AllDaySpan(start_date=meeting.start_date, end_date=meeting.end_date)
    return TimedSpan(start=meeting.starts_at, end=meeting.ends_at, timezone=meeting.timezone)


def set_meeting_time(meeting: Meeting, span: MeetingTime) -> None:
    """All-day spans also fill starts_at/ends_at (UTC midnights) so window queries need one
    index; the dates stay the truth and are what every consumer reads."""
    if isinstance(span, AllDaySpan):
        meeting.all_day = True
        meeting.start_date, meeting.end_date = span.start_date, span.end_date
        meeting.starts_at = _utc_midnight(span.start_date)
        meeting.ends_at = _utc_midnight(span.end_date)
        meeting.timezone = "UTC"
    else:
        meeting.all_day = False
        meeting.start_date = meeting.end_date = None
        meeting.starts_at, meeting.ends_at = span.start, span.end
        meeting.timezone = span.timezone


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def participant(row: MeetingParticipant) -> Participant:
    return Participant.model_validate(
        {
            "kind": row.kind,
            "id": row.ref_id,
            "name": row.name,
            "email": row.email,
            "response": row.response,
        }
    )


def participant_rows(participants: list[Participant]) -> list[MeetingParticipant]:
    return [
        MeetingParticipant(
            position=i,
            kind=p.kind.value,
            ref_id=p.id,
            name=p.name,
            email=p.email,
            response=p.response.value,
        )
        for i, p in enumerate(participants)
    ]


def recurrence_id_value(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_recurrence_id(value: str | None) -> datetime | date | None:
    if value is None:
        return None
    return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)


def meeting_snapshot(meeting: Meeting) -> MeetingSnapshot:
    recurrence: Any = meeting.recurrence
    return MeetingSnapshot(
        id=meeting.id,
        tenant_id=meeting.tenant_id,
        ical_uid=meeting.ical_uid,
        version=meeting.version,
        owner_user_id=meeting.owner_user_id,
        booked_by_user_id=meeting.booked_by_user_id,
        meeting_type_id=meeting.meeting_type_id,
        subject=meeting.subject,
        location=meeting.location,
        description=meeting.description,
        description_html=meeting.description_html,
        time=meeting_time(meeting),
        private=meeting.private,
        status=MeetingStatus(meeting.status),
        participants=[participant(row) for row in meeting.participants],
        custom_fields=dict(meeting.custom_fields),
        recurrence=Recurrence.model_validate(recurrence) if recurrence else None,
        series_id=meeting.series_id,
        recurrence_id=_parse_recurrence_id(meeting.recurrence_id),
    )
