"""/calendar and /freebusy: what the web app's month/week/day/schedule views and the meeting
form's side panel read."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from calsync_contracts.meeting import MeetingSnapshot
from crm_api.entrypoints.http.deps import CallerDep, SessionDep
from crm_api.schemas.types import CrmDatetime
from crm_api.service_layer import calendar as calendar_service

router = APIRouter(tags=["calendar"])

Users = Annotated[list[uuid.UUID], Query(min_length=1, max_length=calendar_service.MAX_USERS)]
Start = Annotated[CrmDatetime, Query(description="Window start, with offset")]
End = Annotated[CrmDatetime, Query(description="Window end, with offset (≤ 366 days later)")]


class CalendarEntryOut(BaseModel):
    owner_user_id: uuid.UUID
    start: datetime | date
    end: datetime | date
    all_day: bool
    recurrence_id: datetime | date | None
    busy_only: bool
    meeting: MeetingSnapshot | None


class BusyInterval(BaseModel):
    start: datetime
    end: datetime


class FreeBusyOut(BaseModel):
    user_id: uuid.UUID
    busy: list[BusyInterval]


@router.get("/calendar", summary="Meetings of several users in a window, series expanded")
async def get_calendar(
    caller: CallerDep, session: SessionDep, users: Users, start: Start, end: End
) -> list[CalendarEntryOut]:
    entries = await calendar_service.calendar(session, caller, users, start, end)
    return [
        CalendarEntryOut(
            owner_user_id=e.owner_user_id,
            start=e.start,
            end=e.end,
            all_day=e.all_day,
            recurrence_id=e.recurrence_id,
            busy_only=e.meeting is None,
            meeting=e.meeting,
        )
        for e in entries
    ]


@router.get("/freebusy", summary="Busy intervals of several users (to avoid double-booking)")
async def get_free_busy(
    caller: CallerDep, session: SessionDep, users: Users, start: Start, end: End
) -> list[FreeBusyOut]:
    busy = await calendar_service.free_busy(session, caller, users, start, end)
    return [
        FreeBusyOut(user_id=user, busy=[BusyInterval(start=b, end=e) for b, e in intervals])
        for user, intervals in busy.items()
    ]
