"""CRM meeting ⇄ Google event (Calendar API v3 ``events`` resource): round trips, the fields
Google is strict about, and bad input. No server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calsync_contracts.meeting import (
    AllDaySpan,
    MeetingSnapshot,
    Participant,
    Recurrence,
    ResponseStatus,
    TimedSpan,
)
from sync_core.errors import UnreadableItem
from sync_core.ports import OutboundEvent
from sync_core.views import meeting_view, provider_view
from sync_google.mapping import (
    crm_id_of,
    event_id_for,
    external_id_of,
    google_id,
    parse,
    render,
    send_updates,
)

ZONES = ["Europe/Copenhagen", "Europe/Warsaw", "America/New_York", "Asia/Kolkata", "UTC"]


def meeting(**changes: Any) -> MeetingSnapshot:
    start = datetime(2026, 12, 3, 13, tzinfo=UTC)
    values: dict[str, Any] = {
        "id": uuid4(),
        "tenant_id": uuid4(),
        "ical_uid": "m1@crm.test",
        "version": 1,
        "owner_user_id": uuid4(),
        "subject": "Review",
        "time": TimedSpan(start=start, end=start + timedelta(hours=1), timezone="Europe/Warsaw"),
        "participants": [Participant(kind="external", email="ann@example.com", name="Ann")],
    }
    return MeetingSnapshot.model_validate(values | changes)


def as_google(body: dict[str, Any]) -> dict[str, Any]:
    """What Google hands back: the body plus the fields it sets."""
    return body | {"id": "abcde12345", "etag": '"1"', "updated": "2026-12-01T10:00:00.000Z"}


def test_a_meeting_id_is_a_valid_google_event_id() -> None:
    """Client-chosen ids must be base32hex, 5 to 1024 characters (events.insert)."""
    chosen = event_id_for(meeting())
    assert set(chosen) <= set("0123456789abcdefghijklmnopqrstuv")
    assert 5 <= len(chosen) <= 1024


def test_all_day_has_dates_only_with_an_exclusive_end() -> None:
    day = date(2026, 12, 24)
    body = render(
        OutboundEvent(meeting(time=AllDaySpan(start_date=day, end_date=day + timedelta(days=1))))
    )
    # The timed fields go as null: events.patch merges start/end, and both kinds at once is a 400.
    assert body["start"] == {"date": "2026-12-24", "dateTime": None, "timeZone": None}
    assert body["end"] == {"date": "2026-12-25", "dateTime": None, "timeZone": None}


def test_private_and_the_invitation_sender() -> None:
    m = meeting(private=True)
    assert render(OutboundEvent(m))["visibility"] == "private"
    assert send_updates(OutboundEvent(m)) == "none"
    assert send_updates(OutboundEvent(m, notifier_sends_invitations=False)) == "all"


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    minutes=st.integers(min_value=0, max_value=60 * 24 * 365),
    length=st.integers(min_value=1, max_value=600),
    subject=st.text(max_size=40),
    response=st.sampled_from(list(ResponseStatus)),
)
def test_round_trip_keeps_the_view(
    zone: str, minutes: int, length: int, subject: str, response: ResponseStatus
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    m = meeting(
        subject=subject,
        time=TimedSpan(start=start, end=start + timedelta(minutes=length), timezone=zone),
        participants=[Participant(kind="external", email="b@example.com", response=response)],
    )
    fields = parse(as_google(render(OutboundEvent(m))))
    assert provider_view(fields) == meeting_view(m)


def test_a_series_round_trips_and_cancelled_instances_are_excluded_dates() -> None:
    rule = Recurrence(
        rrule=["FREQ=WEEKLY;COUNT=5"], exdates=[datetime(2026, 12, 10, 13, tzinfo=UTC)]
    )
    series = as_google(render(OutboundEvent(meeting(recurrence=rule))))
    assert provider_view(parse(series))["recurrence"] == rule.model_dump(mode="json")
    cancelled = {
        "id": "abcde12345_20261217T130000Z",
        "status": "cancelled",
        "recurringEventId": "abcde12345",
        "originalStartTime": {"dateTime": "2026-12-17T14:00:00+01:00"},
    }
    read = parse(series, [cancelled])
    assert read.recurrence is not None
    assert datetime(2026, 12, 17, 13, tzinfo=UTC) in read.recurrence.exdates


def test_an_instance_has_the_engines_occurrence_id() -> None:
    instance = {"id": "abcde12345_20261217T130000Z", "recurringEventId": "abcde12345"}
    external = external_id_of(instance)
    assert external == "abcde12345#20261217T130000Z"
    assert google_id(external) == instance["id"]


def test_the_crm_id_is_read_back_and_nonsense_ignored() -> None:
    m = meeting()
    assert crm_id_of(as_google(render(OutboundEvent(m)))) == m.id
    assert crm_id_of({"extendedProperties": {"private": {"crmMeetingId": "nope"}}}) is None


def test_details_shown_in_google_are_not_read_back() -> None:
    m = meeting(description="Agenda", participants=[Participant(kind="person", name="Bo Org")])
    body = render(OutboundEvent(m))
    assert "Bo Org" in body["description"]
    assert parse(as_google(body)).description == "Agenda"


def test_an_unknown_time_zone_reads_as_utc_without_moving_the_time() -> None:
    event = as_google(
        {
            "start": {"dateTime": "2026-12-03T14:00:00+01:00", "timeZone": "Customized Time Zone"},
            "end": {"dateTime": "2026-12-03T15:00:00+01:00", "timeZone": "Customized Time Zone"},
        }
    )
    time = parse(event).time
    assert isinstance(time, TimedSpan)
    assert time.timezone == "UTC"
    assert time.start == datetime(2026, 12, 3, 13, tzinfo=UTC)


@pytest.mark.parametrize(
    "broken",
    [
        {"end": {"date": "2026-01-02"}},
        {
            "start": {"dateTime": "2026-12-03T14:00:00Z"},
            "end": {"dateTime": "2026-12-03T13:00:00Z"},
        },
        {"start": {"dateTime": "yesterday"}, "end": {"dateTime": "today"}},
        {
            "start": {"date": "2026-12-03"},
            "end": {"date": "2026-12-04"},
            "recurrence": ["RRULE:FREQ=SOMETIMES"],
        },
    ],
)
def test_bad_events_are_unreadable_not_crashes(broken: dict[str, Any]) -> None:
    with pytest.raises(UnreadableItem):
        parse(as_google(broken))


@pytest.mark.parametrize(
    ("start", "rule"),
    [
        ({"date": "2026-12-03"}, "RRULE:FREQ=WEEKLY;UNTIL=20270101T000000Z"),
        ({"dateTime": "2026-12-03T14:00:00Z"}, "RRULE:FREQ=WEEKLY;UNTIL=20270101"),
    ],
)
def test_an_until_of_the_other_kind_than_the_start_is_readable(
    start: dict[str, str], rule: str
) -> None:
    """Google accepts both; dateutil alone refuses them with an aware start."""
    end = {"date": "2026-12-04"} if "date" in start else {"dateTime": "2026-12-03T15:00:00Z"}
    fields = parse(as_google({"start": start, "end": end, "recurrence": [rule]}))
    assert fields.recurrence is not None
