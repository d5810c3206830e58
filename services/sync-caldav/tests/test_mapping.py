"""CRM meeting ⇄ iCalendar: round trips, what a rewrite keeps, and bad input."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

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
from sync_caldav.mapping import parse_resource, render_resource, resource_name
from sync_core.errors import UnreadableItem
from sync_core.ports import OutboundEvent
from sync_core.views import meeting_view, provider_view

OWNER = uuid4()
ZONES = ["Europe/Copenhagen", "Europe/Warsaw", "America/New_York", "Asia/Kolkata", "UTC"]


def meeting(**changes: object) -> MeetingSnapshot:
    start = datetime(2026, 12, 3, 13, tzinfo=UTC)
    values: dict[str, object] = {
        "id": uuid4(),
        "tenant_id": uuid4(),
        "ical_uid": "m1@crm.test",
        "version": 1,
        "owner_user_id": OWNER,
        "subject": "Review",
        "time": TimedSpan(
            start=start, end=start + timedelta(hours=1), timezone="Europe/Copenhagen"
        ),
        "participants": [
            Participant(kind="user", id=OWNER, email="owner@crm.test", response="accepted"),
            Participant(kind="person", email="pia@acme.test", name="Pia Ø"),
        ],
    }
    values.update(changes)
    return MeetingSnapshot.model_validate(values)


def round_trip(m: MeetingSnapshot) -> dict[str, object]:
    parsed = parse_resource(render_resource(OutboundEvent(m)))
    assert parsed.master is not None
    return provider_view(parsed.master)


text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40).map(str.strip)


@settings(max_examples=60, deadline=None)
@given(
    subject=text,
    location=text,
    description=st.text(max_size=80).map(lambda s: s.replace("\r", "").strip()),
    zone=st.sampled_from(ZONES),
    start=st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31), timezones=st.just(UTC)),
    minutes=st.integers(1, 60 * 24 * 3),
    private=st.booleans(),
    response=st.sampled_from(list(ResponseStatus)),
)
def test_a_timed_meeting_survives_the_round_trip(
    subject, location, description, zone, start, minutes, private, response
) -> None:
    start = start.replace(microsecond=0, second=0)
    m = meeting(
        subject=subject,
        location=location,
        description=description,
        private=private,
        time=TimedSpan(start=start, end=start + timedelta(minutes=minutes), timezone=zone),
        participants=[Participant(kind="person", email="x@y.test", response=response)],
    )
    assert round_trip(m) == meeting_view(m)


@settings(max_examples=30, deadline=None)
@given(first=st.dates(date(2020, 1, 1), date(2035, 1, 1)), days=st.integers(1, 30))
def test_an_all_day_meeting_stays_all_day_with_an_exclusive_end(first: date, days: int) -> None:
    m = meeting(time=AllDaySpan(start_date=first, end_date=first + timedelta(days=days)))
    data = render_resource(OutboundEvent(m)).decode()
    assert "DTSTART;VALUE=DATE:" in data
    assert round_trip(m) == meeting_view(m)


def test_the_time_zone_and_its_vtimezone_are_written() -> None:
    data = render_resource(OutboundEvent(meeting())).decode()
    assert "DTSTART;TZID=Europe/Copenhagen:20261203T140000" in data
    assert "BEGIN:VTIMEZONE" in data


def test_the_crm_id_is_embedded_and_read_back() -> None:
    m = meeting()
    assert parse_resource(render_resource(OutboundEvent(m))).crm_meeting_id == m.id


def test_attendees_are_not_scheduled_by_the_server_when_our_notifier_sends() -> None:
    m = meeting()
    ours = render_resource(OutboundEvent(m, notifier_sends_invitations=True)).decode()
    theirs = render_resource(OutboundEvent(m, notifier_sends_invitations=False)).decode()
    assert "SCHEDULE-AGENT=CLIENT" in ours.replace("\r\n ", "")
    assert "SCHEDULE-AGENT" not in theirs.replace("\r\n ", "")
    assert "ORGANIZER" in ours


def test_private_meetings_are_class_private() -> None:
    assert "CLASS:PRIVATE" in render_resource(OutboundEvent(meeting(private=True))).decode()


def test_sequence_grows_only_on_significant_changes() -> None:
    m = meeting()
    first = render_resource(OutboundEvent(m))
    same = render_resource(OutboundEvent(m.model_copy(update={"description": "notes"})), first)
    moved = render_resource(OutboundEvent(m.model_copy(update={"location": "Room 9"})), first)
    assert b"SEQUENCE:0" in first
    assert b"SEQUENCE:0" in same
    assert b"SEQUENCE:1" in moved


def test_a_rewrite_keeps_other_programs_data() -> None:
    existing = render_resource(OutboundEvent(meeting())).decode()
    alarm = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:x\r\nEND:VALARM\r\n"
    existing = existing.replace("END:VEVENT", alarm + "X-OTHER-APP:keep me\r\nEND:VEVENT")
    rewritten = render_resource(
        OutboundEvent(meeting(subject="Renamed")), existing.encode()
    ).decode()
    assert "X-OTHER-APP:keep me" in rewritten
    assert "BEGIN:VALARM" in rewritten
    assert "SUMMARY:Renamed" in rewritten


def test_crm_details_are_shown_but_never_read_back() -> None:
    m = meeting(custom_fields={"budget": 5}, description="Agenda")
    data = render_resource(OutboundEvent(m)).decode().replace("\r\n ", "")
    assert "budget: 5" in data
    parsed = parse_resource(data.encode())
    assert parsed.master is not None
    assert parsed.master.description == "Agenda"


def test_an_edited_occurrence_is_written_into_its_series() -> None:
    start = datetime(2026, 12, 3, 13, tzinfo=UTC)
    series = meeting(recurrence=Recurrence(rrule=["FREQ=WEEKLY;COUNT=5"]))
    data = render_resource(OutboundEvent(series))
    moved = start + timedelta(days=7, hours=2)
    occurrence = meeting(
        id=uuid4(),
        subject="Moved once",
        series_id=series.id,
        recurrence_id=start + timedelta(days=7),
        time=TimedSpan(start=moved, end=moved + timedelta(hours=1), timezone="Europe/Copenhagen"),
    )
    both = parse_resource(render_resource(OutboundEvent(occurrence), data))
    assert both.master is not None
    assert both.master.recurrence is not None
    [override] = both.overrides
    assert override.subject == "Moved once"
    assert override.recurrence_id == start + timedelta(days=7)


def test_windows_zone_names_are_mapped_to_iana() -> None:
    data = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:w1\r\n"
        b"DTSTAMP:20261122T100000Z\r\nDTSTART;TZID=W. Europe Standard Time:20261203T140000\r\n"
        b"DTEND;TZID=W. Europe Standard Time:20261203T150000\r\nSUMMARY:Outlook\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    parsed = parse_resource(data)
    assert parsed.master is not None
    time = parsed.master.time
    assert isinstance(time, TimedSpan)
    assert time.start == datetime(2026, 12, 3, 14, tzinfo=ZoneInfo("Europe/Berlin"))


def test_a_start_without_end_is_read_as_one_day_or_a_short_instant() -> None:
    day = parse_resource(
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20261203\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).master
    assert day is not None
    assert day.time == AllDaySpan(start_date=date(2026, 12, 3), end_date=date(2026, 12, 4))
    instant = parse_resource(
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:i\r\nDTSTART:20261203T100000Z\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).master
    assert instant is not None
    assert isinstance(instant.time, TimedSpan)
    assert instant.time.end - instant.time.start == timedelta(minutes=1)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a calendar",
        b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nSUMMARY:no start\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20261203T100000Z\r\n"
        b"DTEND:20261203T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20261203T100000Z\r\n"
        b"RRULE:FREQ=SOMETIMES\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261203T100000Z\r\nEND:VEVENT\r\n"
        b"BEGIN:VEVENT\r\nUID:b\r\nDTSTART:20261203T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    ],
)
def test_bad_input_is_an_unreadable_item(data: bytes) -> None:
    with pytest.raises(UnreadableItem):
        parse_resource(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_no_other_exception_escapes_for_junk(data: bytes) -> None:
    with contextlib.suppress(UnreadableItem):
        parse_resource(
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n" + data + b"\r\nEND:VEVENT\r\nEND:VCALENDAR"
        )


def test_resource_names_are_deterministic_and_safe() -> None:
    m = meeting(ical_uid="a/b c@x")
    assert resource_name(m) == resource_name(m) == "a_b_c_x.ics"
