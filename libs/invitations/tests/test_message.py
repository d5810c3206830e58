"""Invitation mails as calendar programs read them: parts, headers, and the iTIP object parsed
back with ``icalendar``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from uuid import uuid4

from calsync_invitations.message import build_mail, message_id
from icalendar import Calendar

from calsync_contracts.events import (
    InvitationMethod,
    InvitationRequest,
    InvitationTemplate,
    Recipient,
)
from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot, TimedSpan

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
OWNER = Recipient(email="owner@crm.test", name="Olga Owner")
BOOKER = Recipient(email="booker@crm.test", name="Bo Booker")
ANN = Recipient(email="ann@example.com", name="Ann", language="da", timezone="Europe/Copenhagen")
BEN = Recipient(email="ben@example.com", name="Ben", language="en", timezone="America/New_York")


def meeting(**changes: object) -> MeetingSnapshot:
    values: dict[str, object] = {
        "id": uuid4(),
        "tenant_id": uuid4(),
        "ical_uid": "meeting-1@crm.test",
        "version": 3,
        "owner_user_id": uuid4(),
        "subject": "Contract <review>",
        "location": "Room 4",
        "time": TimedSpan(
            start=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
            end=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
            timezone="Europe/Copenhagen",
        ),
    }
    values.update(changes)
    return MeetingSnapshot.model_validate(values)


def request(
    method: InvitationMethod = InvitationMethod.REQUEST, **changes: object
) -> InvitationRequest:
    m = changes.pop("meeting", None) or meeting()
    assert isinstance(m, MeetingSnapshot)
    values: dict[str, object] = {
        "meeting_id": m.id,
        "meeting_version": m.version,
        "method": method,
        "recipients": [ANN, BEN],
        "meeting": m,
        "sequence": 2,
        "organizer": OWNER,
        "attendees": [ANN, BEN],
        "template": InvitationTemplate(
            subject="{{ meeting.subject }} {{ meeting.start_date }}",
            body="<p>Hi {{ recipient.name }}: {{ meeting.subject }} at {{ meeting.start }}</p>",
        ),
    }
    values.update(changes)
    return InvitationRequest.model_validate(values)


def parsed(mail: EmailMessage) -> EmailMessage:
    again = message_from_bytes(mail.as_bytes(), policy=policy.default)
    assert isinstance(again, EmailMessage)
    return again


def ics_of(mail: EmailMessage) -> tuple[Calendar, Calendar]:
    inline = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
    attached = next(p for p in mail.walk() if p.get_filename() == "invite.ics")
    return Calendar.from_ical(inline.get_content()), Calendar.from_ical(attached.get_content())


def test_the_mail_has_text_html_and_the_calendar_inline_and_attached() -> None:
    mail = parsed(build_mail(request(), ANN, "crm.test", NOW))
    assert mail.get_content_type() == "multipart/mixed"
    alternative = next(p for p in mail.walk() if p.get_content_type() == "multipart/alternative")
    assert [p.get_content_type() for p in alternative.iter_parts()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    calendar_part = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
    assert calendar_part.get_param("method") == "REQUEST"
    assert mail["To"] == "Ann <ann@example.com>"
    assert mail["From"] == "Olga Owner <owner@crm.test>"
    assert mail["Sender"] is None


def test_the_template_is_merged_in_the_recipients_language_and_zone_and_escaped() -> None:
    to_ann = parsed(build_mail(request(), ANN, "crm.test", NOW))
    to_ben = parsed(build_mail(request(), BEN, "crm.test", NOW))
    assert to_ann["Subject"] == "Contract <review> tirsdag den 1. december 2026"
    html = next(p for p in to_ann.walk() if p.get_content_type() == "text/html").get_content()
    assert "Contract &lt;review&gt;" in html
    assert "10.00" in html  # 09:00 UTC in Copenhagen, Danish time format
    text = next(p for p in to_ben.walk() if p.get_content_type() == "text/plain").get_content()
    # 09:00 UTC in New York, as CLDR writes it in English.
    assert "Hi Ben: Contract <review> at Tuesday, December 1, 2026, 4:00 AM" in text


def test_the_itip_object_round_trips_with_uid_sequence_organizer_and_attendees() -> None:
    inline, attached = ics_of(parsed(build_mail(request(), ANN, "crm.test", NOW)))
    assert inline.to_ical() == attached.to_ical()
    assert str(inline["METHOD"]) == "REQUEST"
    [event] = inline.walk("VEVENT")
    assert str(event["UID"]) == "meeting-1@crm.test"
    assert int(event["SEQUENCE"]) == 2
    assert str(event["X-MICROSOFT-CDO-APPT-SEQUENCE"]) == "2"
    assert str(event["ORGANIZER"]) == "mailto:owner@crm.test"
    assert event["ORGANIZER"].params["CN"] == "Olga Owner"
    attendees = {str(a): a.params for a in event["ATTENDEE"]}
    assert set(attendees) == {"mailto:ann@example.com", "mailto:ben@example.com"}
    assert attendees["mailto:ann@example.com"]["RSVP"] == "TRUE"
    assert attendees["mailto:ann@example.com"]["CN"] == "Ann"
    assert event.decoded("DTSTART") == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert event["DTSTART"].params["TZID"] == "Europe/Copenhagen"
    [zone] = inline.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Copenhagen"
    assert str(event["STATUS"]) == "CONFIRMED"


def test_on_behalf_the_owner_organises_and_the_booker_sends() -> None:
    mail = parsed(build_mail(request(sent_by=BOOKER), ANN, "crm.test", NOW))
    assert mail["From"] == "Olga Owner <owner@crm.test>"
    assert mail["Sender"] == "Bo Booker <booker@crm.test>"
    [event] = ics_of(mail)[0].walk("VEVENT")
    assert str(event["ORGANIZER"]) == "mailto:owner@crm.test"
    assert event["ORGANIZER"].params["SENT-BY"] == "mailto:booker@crm.test"


def test_a_cancel_names_only_the_attendees_it_cancels_for() -> None:
    cancel = request(InvitationMethod.CANCEL, recipients=[BEN], sequence=3)
    mail = parsed(build_mail(cancel, BEN, "crm.test", NOW))
    assert mail["Subject"].startswith("Contract <review>")
    calendar, _ = ics_of(mail)
    assert str(calendar["METHOD"]) == "CANCEL"
    [event] = calendar.walk("VEVENT")
    assert str(event["STATUS"]) == "CANCELLED"
    assert int(event["SEQUENCE"]) == 3
    assert str(event["ATTENDEE"]) == "mailto:ben@example.com"


def test_all_day_goes_as_dates_with_an_exclusive_end() -> None:
    all_day = meeting(time=AllDaySpan(start_date=date(2026, 12, 24), end_date=date(2026, 12, 27)))
    # The default template (no template chosen) shows start and end.
    mail = parsed(build_mail(request(meeting=all_day, template=None), BEN, "crm.test", NOW))
    [event] = ics_of(mail)[0].walk("VEVENT")
    assert event.decoded("DTSTART") == date(2026, 12, 24)
    assert event.decoded("DTEND") == date(2026, 12, 27)
    assert "VALUE" in event["DTSTART"].params or len(event["DTSTART"].to_ical()) == 8
    text = next(p for p in mail.walk() if p.get_content_type() == "text/plain").get_content()
    # The last day, not the exclusive DTEND (the dash is the template's &ndash;).
    assert "Thursday, December 24, 2026 \u2013 Saturday, December 26, 2026" in text


def test_the_message_id_is_the_same_for_the_same_mail_and_differs_otherwise() -> None:
    first = request()
    assert message_id(first, ANN, "crm.test") == message_id(first, ANN, "crm.test")
    assert message_id(first, ANN, "crm.test") != message_id(first, BEN, "crm.test")
    cancel = first.model_copy(update={"method": InvitationMethod.CANCEL})
    assert message_id(first, ANN, "crm.test") != message_id(cancel, ANN, "crm.test")
    mail = build_mail(first, ANN, "crm.test", NOW)
    assert mail["Message-ID"] == message_id(first, ANN, "crm.test")
