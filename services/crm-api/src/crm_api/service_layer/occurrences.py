"""Editing one occurrence of a series, as the calendar page does when an occurrence is opened.

The first edit makes an override (RFC 5545 §3.8.4.4): a meeting with the series' UID, its
``series_id`` and the occurrence's RECURRENCE-ID, holding the occurrence's own times. The sync
engine writes it back inside the series' item; later edits change that override like any
meeting. The series itself stays read-only in its pattern and times (``SERIES_ARE_READ_ONLY``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot, MeetingTime, TimedSpan
from crm_api.adapters.orm import Meeting
from crm_api.adapters.snapshots import meeting_snapshot
from crm_api.auth import Caller
from crm_api.domain.recurrence import Occurrence, instant_key, occurrences
from crm_api.errors import Invalid
from crm_api.schemas.meetings import MeetingPatch
from crm_api.service_layer import meeting_commands, meetings
from crm_api.service_layer.meetings import EventContext, MeetingDraft

NOT_A_SERIES = "this meeting is not a recurring series"
NO_SUCH_OCCURRENCE = "the series has no occurrence at this time"
STAYS_IN_ITS_SERIES = "an occurrence stays in its series' calendar; move the whole series there"


async def edit_occurrence(
    session: AsyncSession,
    caller: Caller,
    series_id: uuid.UUID,
    recurrence_id: datetime | date,
    body: MeetingPatch,
) -> MeetingSnapshot:
    tenant = caller.tenant_id
    series = await meetings.get_visible_meeting(session, caller, series_id, lock=True)
    if series.recurrence is None:
        raise Invalid(("path", "meeting_id"), NOT_A_SERIES)
    if body.owner_user_id is not None and body.owner_user_id != series.owner_user_id:
        raise Invalid(("body", "owner_user_id"), STAYS_IN_ITS_SERIES)
    override_id = await _override_id(session, series, instant_key(recurrence_id))
    if override_id is None:
        snapshot = meeting_snapshot(series)
        occurrence = occurrence_at(snapshot, recurrence_id)
        if occurrence is None:
            raise Invalid(("path", "recurrence_id"), NO_SUCH_OCCURRENCE)
        created = await meetings.create_meeting(
            session,
            tenant,
            override_draft(snapshot, occurrence),
            EventContext.from_caller(caller, False),
        )
        override_id = created.id
    return await meeting_commands.patch(session, caller, override_id, body, None)


async def _override_id(session: AsyncSession, series: Meeting, key: str) -> uuid.UUID | None:
    """Compared as instants: an override's RECURRENCE-ID may be stored with any offset."""
    found = await session.execute(
        select(Meeting.id, Meeting.recurrence_id).where(
            Meeting.tenant_id == series.tenant_id, Meeting.series_id == series.id
        )
    )
    return next((i for i, rid in found.all() if rid and instant_key(rid) == key), None)


def occurrence_at(series: MeetingSnapshot, recurrence_id: datetime | date) -> Occurrence | None:
    """The occurrence the series has at ``recurrence_id`` (EXDATEs and all), or None."""
    assert series.recurrence is not None
    if isinstance(recurrence_id, datetime):
        around = recurrence_id.astimezone(UTC)
    else:
        around = datetime.combine(recurrence_id, time.min, tzinfo=UTC)
    wanted = instant_key(recurrence_id)
    window = occurrences(
        series.time, series.recurrence, around - timedelta(days=2), around + timedelta(days=2)
    )
    return next((o for o in window if instant_key(o.recurrence_id) == wanted), None)


def override_draft(series: MeetingSnapshot, occurrence: Occurrence) -> MeetingDraft:
    """The override starts as a copy of the series at the occurrence's times."""
    return MeetingDraft(
        owner_user_id=series.owner_user_id,
        booked_by_user_id=series.booked_by_user_id,
        subject=series.subject,
        location=series.location,
        description=series.description,
        description_html=series.description_html,
        meeting_type_id=series.meeting_type_id,
        time=_occurrence_time(series.time, occurrence),
        private=series.private,
        status=series.status.value,
        participants=list(series.participants),
        custom_fields=dict(series.custom_fields),
        ical_uid=series.ical_uid,
        series_id=series.id,
        recurrence_id=instant_key(occurrence.recurrence_id),
    )


def _occurrence_time(span: MeetingTime, occurrence: Occurrence) -> MeetingTime:
    if isinstance(span, AllDaySpan):
        assert isinstance(occurrence.start, date)
        assert isinstance(occurrence.end, date)
        return AllDaySpan(start_date=occurrence.start, end_date=occurrence.end)
    assert isinstance(occurrence.start, datetime)
    assert isinstance(occurrence.end, datetime)
    return TimedSpan(start=occurrence.start, end=occurrence.end, timezone=span.timezone)
