"""CRM meetings as EWS calendar items and back (no server: exchangelib's value types only)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from exchangelib import Attendee, CalendarItem, EWSDate, EWSDateTime, EWSTimeZone, Mailbox

from calsync_contracts.meeting import (
    AllDaySpan,
    MeetingSnapshot,
    Participant,
    ResponseStatus,
    TimedSpan,
)
from sync_core.details import DETAILS_MARKER
from sync_core.errors import UnreadableItem
from sync_core.ports import OutboundEvent
from sync_exchange.ews.mapping import changed_fields, crm_id_of, parse, render

START = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


def meeting(**changes: Any) -> MeetingSnapshot:
    values: dict[str, Any] = {
        "id": uuid4(),
        "tenant_id": uuid4(),
        "ical_uid": "m-1@crm.test",
        "version": 1,
        "owner_user_id": uuid4(),
        "subject": "Budget",
        "location": "Room 4",
        "description": "Line one\nLine two",
        "time": TimedSpan(start=START, end=START + timedelta(hours=1), timezone="Europe/Berlin"),
        "participants": [Participant(kind="external", email="ann@example.com", name="Ann")],
    }
    return MeetingSnapshot.model_validate(values | changes)


def as_read(values: dict[str, Any], **extra: Any) -> CalendarItem:
    """An item as exchangelib hands it over after ``GetItem``: times in UTC, and the zone as
    Exchange names it (a Windows id, which exchangelib maps to one IANA zone)."""
    item = CalendarItem(**values, **extra)
    if isinstance(values["start"], datetime):
        item._start_timezone = EWSTimeZone.from_ms_id(values["start"].tzinfo.ms_id)
        item.start = values["start"].astimezone(EWSTimeZone("UTC"))
        item.end = values["end"].astimezone(EWSTimeZone("UTC"))
    return item


def test_a_timed_meeting_goes_out_in_its_own_zone_and_comes_back_the_same() -> None:
    m = meeting()
    values = render(OutboundEvent(m))
    assert values["start"].tzinfo.key == "Europe/Berlin"
    assert values["start"].hour == 10  # 09:00 UTC is 10:00 in Berlin in December
    fields = parse(as_read(values))
    assert fields.time == m.time
    assert (fields.subject, fields.location, fields.description) == (
        m.subject,
        m.location,
        m.description,
    )
    assert [a.email for a in fields.attendees] == ["ann@example.com"]


def test_all_day_days_are_inclusive_for_exchangelib_and_exclusive_in_the_crm() -> None:
    day = date(2026, 12, 24)
    m = meeting(time=AllDaySpan(start_date=day, end_date=day + timedelta(days=2)))
    values = render(OutboundEvent(m))
    assert values["is_all_day"] is True
    assert (values["start"], values["end"]) == (EWSDate(2026, 12, 24), EWSDate(2026, 12, 25))
    assert parse(as_read(values)).time == m.time


def test_a_private_meeting_is_private_in_exchange() -> None:
    values = render(OutboundEvent(meeting(private=True)))
    assert values["sensitivity"] == "Private"
    assert parse(as_read(values)).private is True


def test_the_crm_details_block_is_written_but_never_read_back() -> None:
    typed = meeting(meeting_type_id=uuid4())
    values = render(OutboundEvent(typed, meeting_type_name="Demo"))
    assert DETAILS_MARKER in str(values["body"])
    assert parse(as_read(values)).description == "Line one\nLine two"


def test_a_plain_text_rendering_of_an_html_body_is_preferred() -> None:
    item = as_read(render(OutboundEvent(meeting())), text_body="Agenda")
    assert parse(item).description == "Agenda"


def test_guests_answers_are_read() -> None:
    values = render(OutboundEvent(meeting()))
    values["required_attendees"] = [
        Attendee(mailbox=Mailbox(email_address="Ann@Example.com"), response_type="Decline")
    ]
    (ann,) = parse(as_read(values)).attendees
    assert (ann.email, ann.response) == ("ann@example.com", ResponseStatus.DECLINED)


def test_an_item_without_times_is_unreadable_not_an_exception() -> None:
    with pytest.raises(UnreadableItem):
        parse(CalendarItem(subject="migrated"))


def test_our_meeting_id_is_found_and_a_foreign_value_ignored() -> None:
    m = meeting()
    assert crm_id_of(CalendarItem(crm_meeting_id=str(m.id))) == m.id
    assert crm_id_of(CalendarItem(crm_meeting_id="not an id")) is None
    assert crm_id_of(CalendarItem()) is None


def test_an_unchanged_meeting_writes_nothing() -> None:
    values = render(OutboundEvent(meeting()))
    assert changed_fields(values, as_read(values)) == {}


def test_a_new_subject_writes_the_subject_only() -> None:
    before = as_read(render(OutboundEvent(meeting())))
    after = render(OutboundEvent(meeting(subject="Budget, final")))
    assert changed_fields(after, before) == {"subject": "Budget, final"}


def test_the_same_instant_in_another_zone_writes_the_zone_only() -> None:
    """Rewriting the times would mail every guest an update for nothing."""
    before = as_read(render(OutboundEvent(meeting())))
    london = TimedSpan(start=START, end=START + timedelta(hours=1), timezone="Europe/London")
    changes = changed_fields(render(OutboundEvent(meeting(time=london))), before)
    assert set(changes) == {"crm_time_zone", "_start_timezone", "_end_timezone"}
    assert changes["crm_time_zone"] == changes["_start_timezone"].key == "Europe/London"


def test_a_zone_exchange_shares_with_others_comes_back_as_written() -> None:
    """Copenhagen and Paris are both "Romance Standard Time" in Exchange."""
    copenhagen = TimedSpan(
        start=START, end=START + timedelta(hours=1), timezone="Europe/Copenhagen"
    )
    values = render(OutboundEvent(meeting(time=copenhagen)))
    assert parse(as_read(values)).time == copenhagen
    moved_in_outlook = as_read(values | {"crm_time_zone": None})
    assert parse(moved_in_outlook).time.timezone == "Europe/Paris"  # type: ignore[union-attr]


def test_a_moved_meeting_writes_its_times() -> None:
    before = as_read(render(OutboundEvent(meeting())))
    later = START + timedelta(hours=2)
    moved = TimedSpan(start=later, end=later + timedelta(hours=1), timezone="Europe/Berlin")
    assert set(changed_fields(render(OutboundEvent(meeting(time=moved))), before)) == {
        "is_all_day",
        "start",
        "end",
    }


def test_a_new_guest_keeps_the_answers_and_optional_guests_exchange_knows() -> None:
    ann = Attendee(mailbox=Mailbox(email_address="ann@example.com"), response_type="Accept")
    bob = Attendee(mailbox=Mailbox(email_address="bob@example.com"), response_type="Tentative")
    before = as_read(render(OutboundEvent(meeting())))
    before.required_attendees, before.optional_attendees = [ann], [bob]
    guests = [
        Participant(kind="external", email="ann@example.com"),
        Participant(kind="external", email="bob@example.com"),
        Participant(kind="external", email="cy@example.com"),
    ]
    changes = changed_fields(render(OutboundEvent(meeting(participants=guests))), before)
    required = changes["required_attendees"]
    assert [a.mailbox.email_address for a in required] == ["ann@example.com", "cy@example.com"]
    assert required[0].response_type == "Accept"
    assert changes["optional_attendees"] == [bob]


def test_a_meeting_read_from_json_is_written_too() -> None:
    """Times parsed by pydantic carry its own offset type, which exchangelib refuses."""
    m = MeetingSnapshot.model_validate_json(meeting().model_dump_json())
    values = render(OutboundEvent(m))
    assert isinstance(values["start"], EWSDateTime)
    assert values["start"] == m.time.start  # type: ignore[union-attr]
