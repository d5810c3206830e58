"""CRM meetings as Graph events (no server): what Outlook needs to show them as the CRM does."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot
from sync_core.ports import OutboundEvent
from sync_exchange.graph.mapping import parse, render


def all_day(day: date) -> MeetingSnapshot:
    return MeetingSnapshot.model_validate(
        {
            "id": uuid4(),
            "tenant_id": uuid4(),
            "ical_uid": "m@crm.test",
            "version": 1,
            "owner_user_id": uuid4(),
            "subject": "Offsite",
            "time": AllDaySpan(start_date=day, end_date=day + timedelta(days=1)),
        }
    )


def test_an_all_day_meeting_runs_midnight_to_midnight_in_the_users_zone() -> None:
    """In UTC, Outlook in Berlin would show it from 01:00 to 01:00 the next day."""
    m = all_day(date(2026, 12, 24))
    body = render(OutboundEvent(m, all_day_zone="Europe/Berlin"))
    assert body["start"] == {"dateTime": "2026-12-24T00:00:00", "timeZone": "Europe/Berlin"}
    assert body["end"] == {"dateTime": "2026-12-25T00:00:00", "timeZone": "Europe/Berlin"}
    # As Graph answers it: in UTC, with the zone it was made in.
    answered = body | {
        "start": {"dateTime": "2026-12-23T23:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-24T23:00:00", "timeZone": "UTC"},
        "originalStartTimeZone": "Europe/Berlin",
    }
    assert parse(answered).time == m.time


def test_a_zone_graph_does_not_know_falls_back_to_utc() -> None:
    body = render(OutboundEvent(all_day(date(2026, 12, 24)), all_day_zone="Mars/Olympus"))
    assert body["start"]["timeZone"] == "UTC"
