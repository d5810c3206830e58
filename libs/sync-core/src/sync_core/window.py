"""The sync window: months back and months ahead of now, configured per tenant / connection.

Only meetings that overlap the window are synced; a meeting leaving it is unlinked (a logical
delete), never deleted (Dynamics KB 4345686).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from calsync_contracts.meeting import AllDaySpan, MeetingTime, Recurrence

_DAY = timedelta(days=1)


def add_months(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    return date(year, month + 1, 1)


@dataclass(frozen=True, slots=True)
class SyncWindow:
    start: datetime
    end: datetime

    @classmethod
    def around(cls, now: datetime, months_back: int, months_ahead: int) -> SyncWindow:
        """From the first day of the month ``months_back`` ago to the first day of the month
        after ``months_ahead`` from now (whole months, so the window moves once a month)."""
        today = now.astimezone(UTC).date()
        start = add_months(today, -months_back)
        end = add_months(today, months_ahead + 1)
        return cls(
            datetime.combine(start, time(), tzinfo=UTC), datetime.combine(end, time(), tzinfo=UTC)
        )

    def overlaps(self, span: MeetingTime, recurrence: Recurrence | None = None) -> bool:
        """A series overlaps if its first occurrence starts before the window ends (its end is
        left to the provider's own expansion: series are never cut by the window)."""
        start, end = _bounds(span)
        if recurrence is not None and recurrence.rrule:
            return start < self.end
        return start < self.end and end > self.start


def _bounds(span: MeetingTime) -> tuple[datetime, datetime]:
    if isinstance(span, AllDaySpan):
        # Dates are floating (RFC 5545 §3.3.4): widen by a day either side so no zone is cut off.
        return (
            datetime.combine(span.start_date, time(), tzinfo=UTC) - _DAY,
            datetime.combine(span.end_date, time(), tzinfo=UTC) + _DAY,
        )
    return span.start, span.end
