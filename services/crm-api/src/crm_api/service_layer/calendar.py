"""Calendar queries: several users' meetings in a window with series expanded, colleagues'
private meetings reduced to busy blocks; free/busy to avoid double-booking colleagues."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot
from crm_api.adapters.orm import Meeting, User
from crm_api.adapters.snapshots import meeting_snapshot
from crm_api.auth import Caller
from crm_api.domain.privacy import shown_to
from crm_api.domain.recurrence import day_bounds, instant_key, occurrences
from crm_api.errors import Invalid

MAX_WINDOW = timedelta(days=366)
MAX_USERS = 50


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    owner_user_id: uuid.UUID
    start: datetime | date
    end: datetime | date
    all_day: bool
    recurrence_id: datetime | date | None
    meeting: MeetingSnapshot | None
    """None for a colleague's private meeting: only the busy block is shown."""


def check_window(start: datetime, end: datetime) -> None:
    if end <= start:
        raise Invalid(("query", "end"), "end must be after start")
    if end - start > MAX_WINDOW:
        raise Invalid(("query", "end"), "the window may span at most 366 days")


async def tenant_users(
    session: AsyncSession, caller: Caller, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, User]:
    if not user_ids or len(user_ids) > MAX_USERS:
        raise Invalid(("query", "users"), f"give between 1 and {MAX_USERS} users")
    rows = (
        await session.execute(
            select(User).where(User.tenant_id == caller.tenant_id, User.id.in_(user_ids))
        )
    ).scalars()
    found = {user.id: user for user in rows}
    missing = [str(u) for u in user_ids if u not in found]
    if missing:
        raise Invalid(("query", "users"), f"no such users in this tenant: {', '.join(missing)}")
    return found


async def _rows(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    owners: list[uuid.UUID],
    start: datetime,
    end: datetime,
) -> list[Meeting]:
    """Single meetings and overrides overlapping the window, and every series that began before
    its end (expanded afterwards). Booked-on-behalf meetings belong to their owner only."""
    statement = select(Meeting).where(
        Meeting.tenant_id == tenant_id,
        Meeting.owner_user_id.in_(owners),
        Meeting.status != "cancelled",
        Meeting.starts_at < end,
        # JSONB null is not SQL NULL: a series is a meeting whose recurrence is an object.
        or_(func.jsonb_typeof(Meeting.recurrence) == "object", Meeting.ends_at > start),
    )
    return list((await session.execute(statement)).scalars())


def _visible(
    meeting: MeetingSnapshot, caller: Caller, series_private: bool
) -> MeetingSnapshot | None:
    """A colleague's private meeting shows as busy, with no details (unless you take part)."""
    return meeting if shown_to(meeting, caller.user_id, series_private=series_private) else None


def _entries(
    row: Meeting,
    caller: Caller,
    start: datetime,
    end: datetime,
    overridden: set[tuple[uuid.UUID, str]],
    private_series: set[uuid.UUID],
) -> list[CalendarEntry]:
    snapshot = meeting_snapshot(row)
    shown = _visible(snapshot, caller, row.series_id in private_series)
    all_day = isinstance(snapshot.time, AllDaySpan)
    if snapshot.recurrence is None:
        span = snapshot.time
        first, last = (
            (span.start_date, span.end_date)
            if isinstance(span, AllDaySpan)
            else (span.start, span.end)
        )
        return [
            CalendarEntry(row.owner_user_id, first, last, all_day, snapshot.recurrence_id, shown)
        ]
    return [
        CalendarEntry(row.owner_user_id, o.start, o.end, all_day, o.recurrence_id, shown)
        for o in occurrences(snapshot.time, snapshot.recurrence, start, end)
        if (row.id, instant_key(o.recurrence_id)) not in overridden
    ]


async def calendar(
    session: AsyncSession,
    caller: Caller,
    user_ids: list[uuid.UUID],
    start: datetime,
    end: datetime,
) -> list[CalendarEntry]:
    check_window(start, end)
    await tenant_users(session, caller, user_ids)
    rows = await _rows(session, caller.tenant_id, user_ids, start, end)
    overridden = {
        (row.series_id, instant_key(row.recurrence_id))
        for row in rows
        if row.series_id is not None and row.recurrence_id is not None
    }
    private_series = await _private_series(session, {r.series_id for r in rows if r.series_id})
    entries = [
        entry
        for row in rows
        for entry in _entries(row, caller, start, end, overridden, private_series)
    ]
    return sorted(entries, key=lambda e: _instant(e.start, "UTC"))


async def _private_series(session: AsyncSession, series_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """The series among these that are private: their overrides are private too."""
    if not series_ids:
        return set()
    rows = await session.scalars(
        select(Meeting.id).where(Meeting.id.in_(series_ids), Meeting.private.is_(True))
    )
    return set(rows)


def _instant(value: datetime | date, zone: str) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return day_bounds(value, value, zone)[0].astimezone(UTC)


async def free_busy(
    session: AsyncSession,
    caller: Caller,
    user_ids: list[uuid.UUID],
    start: datetime,
    end: datetime,
) -> dict[uuid.UUID, list[tuple[datetime, datetime]]]:
    """Merged busy intervals (UTC) per user; all-day meetings block whole days in the user's
    own time zone."""
    users = await tenant_users(session, caller, user_ids)
    entries = await calendar(session, caller, user_ids, start, end)
    busy: dict[uuid.UUID, list[tuple[datetime, datetime]]] = {u: [] for u in user_ids}
    for entry in entries:
        zone = users[entry.owner_user_id].time_zone
        busy[entry.owner_user_id].append((_instant(entry.start, zone), _instant(entry.end, zone)))
    return {user: merge_intervals(intervals) for user, intervals in busy.items()}


def merge_intervals(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for begin, finish in sorted(intervals):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged
