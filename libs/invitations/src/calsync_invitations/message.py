"""One recipient's invitation mail: the template merged in the recipient's language and time
zone, and the iTIP object both inline and attached.

Structure (RFC 6047 §2.4, as Outlook, Gmail and Apple Mail expect)::

    multipart/mixed
      multipart/alternative
        text/plain                      the template's text
        text/html                       the rendered template
        text/calendar; method=REQUEST   the iTIP object (method also inside it)
      application/ics  invite.ics       the same object, for clients that only see attachments
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime as rfc5322_date
from typing import Any
from uuid import NAMESPACE_URL, uuid5
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format

from calsync_contracts.events import InvitationMethod, InvitationRequest, Recipient
from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot, ParticipantKind
from calsync_invitations.itip import invitation_ics
from calsync_invitations.templates import merge_context, render, text_of

DEFAULT_SUBJECTS = {
    InvitationMethod.REQUEST: "Invitation: {{ meeting.subject }} ({{ meeting.start }})",
    InvitationMethod.CANCEL: "Cancelled: {{ meeting.subject }} ({{ meeting.start }})",
}
DEFAULT_BODY = (
    "<p>{{ meeting.subject }}</p><p>{{ meeting.start }} &ndash; {{ meeting.end }}"
    "{% if meeting.location %}<br>{{ meeting.location }}{% endif %}</p>"
    "{% if meeting.description %}<p>{{ meeting.description }}</p>{% endif %}"
    "<p>{{ meeting.organiser }}</p>"
)


def message_id(request: InvitationRequest, recipient: Recipient, domain: str) -> str:
    """Deterministic (RFC 5322 §3.6.4): a mail re-sent after a crash is recognisably the same."""
    key = (
        f"calsync:{request.meeting_id}:{request.meeting_version}:"
        f"{request.method.value}:{recipient.email.lower()}"
    )
    return f"<{uuid5(NAMESPACE_URL, key)}@{domain}>"


@dataclass(frozen=True, slots=True)
class PreparedInvitation:
    """What all recipients of one request share, made once: the iTIP object (its ATTENDEE lines
    name everyone) and the template sources."""

    request: InvitationRequest
    domain: str
    now: datetime
    ics: bytes
    subject_source: str
    body_source: str

    def mail_for(self, recipient: Recipient) -> EmailMessage:
        request = self.request
        context = merge_context(meeting_values(request, recipient), _recipient_values(recipient))
        html = render(self.body_source, context, html=True)
        mail = EmailMessage()
        mail["Subject"] = " ".join(render(self.subject_source, context, html=False).split())
        organizer = request.organizer or Recipient(email=f"no-reply@{self.domain}")
        mail["From"] = Address(organizer.name, addr_spec=organizer.email)
        if request.sent_by is not None:  # RFC 5322 §3.6.2: the booker sends for the owner
            mail["Sender"] = Address(request.sent_by.name, addr_spec=request.sent_by.email)
        mail["To"] = Address(recipient.name, addr_spec=recipient.email)
        mail["Date"] = rfc5322_date(self.now)
        mail["Message-ID"] = message_id(request, recipient, self.domain)
        mail.set_content(text_of(html))
        mail.add_alternative(html, subtype="html")
        params = {"method": request.method.value, "charset": "utf-8"}
        mail.add_alternative(self.ics, maintype="text", subtype="calendar", params=params)
        mail.make_mixed()
        mail.add_attachment(self.ics, maintype="application", subtype="ics", filename="invite.ics")
        return mail


def prepare(request: InvitationRequest, domain: str, now: datetime) -> PreparedInvitation:
    template = request.template
    return PreparedInvitation(
        request,
        domain,
        now,
        invitation_ics(request, now),
        template.subject if template else DEFAULT_SUBJECTS[request.method],
        template.body if template else DEFAULT_BODY,
    )


def build_mail(
    request: InvitationRequest, recipient: Recipient, domain: str, now: datetime
) -> EmailMessage:
    """One recipient's mail (``prepare`` once and ``mail_for`` each recipient when many)."""
    return prepare(request, domain, now).mail_for(recipient)


def meeting_values(request: InvitationRequest, recipient: Recipient) -> dict[str, Any]:
    """The ``meeting`` merge fields (``fields.MEETING_FIELDS``) for one recipient."""
    meeting = _meeting(request)
    merge = request.merge
    organizer = request.organizer
    return {
        "subject": meeting.subject,
        "location": meeting.location,
        "description": meeting.description,
        **_times(meeting, recipient),
        "all_day": isinstance(meeting.time, AllDaySpan),
        "organiser": organizer.name if organizer else "",
        "organiser_email": organizer.email if organizer else "",
        "booked_by": merge.booked_by,
        "organisations": merge.organisations or _names(meeting, ParticipantKind.ORGANISATION),
        "persons": merge.persons or _names(meeting, ParticipantKind.PERSON),
        "users": merge.users or _names(meeting, ParticipantKind.USER),
        "link": merge.link,
        "links": [str(v) for k, v in meeting.custom_fields.items() if _is_link(k, v)],
        "custom": {key: _text(value) for key, value in meeting.custom_fields.items()},
    }


def _times(meeting: MeetingSnapshot, recipient: Recipient) -> dict[str, str]:
    locale = _locale(recipient.language)
    time = meeting.time
    if isinstance(time, AllDaySpan):
        last_day = time.end_date.toordinal() - 1  # DTEND is exclusive; people read the last day
        start_date = format_date(time.start_date, "full", locale=locale)
        end_date = format_date(type(time.end_date).fromordinal(last_day), "full", locale=locale)
        return {
            "start": start_date,
            "end": end_date,
            "start_date": start_date,
            "end_date": end_date,
            "start_time": "",
            "end_time": "",
            "time_zone": recipient.timezone,
        }
    zone = _zone(recipient.timezone)
    start, end = time.start.astimezone(zone), time.end.astimezone(zone)
    joined = str(get_datetime_format("long", locale=locale)).replace("'", "")
    values = {
        "start_date": format_date(start, "full", locale=locale),
        "end_date": format_date(end, "full", locale=locale),
        "start_time": format_time(start, "short", locale=locale),
        "end_time": format_time(end, "short", locale=locale),
        "time_zone": recipient.timezone,
    }
    values["start"] = joined.format(values["start_time"], values["start_date"])
    values["end"] = joined.format(values["end_time"], values["end_date"])
    return values


def _locale(language: str) -> str:
    """The recipient's language as Babel knows it; English when it knows no such language."""
    try:
        return str(Locale.parse(language.replace("-", "_")))
    except (UnknownLocaleError, ValueError):
        return "en"


def _zone(name: str) -> ZoneInfo:
    """The recipient's time zone; UTC when the name is unknown (the mail still goes out)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _recipient_values(recipient: Recipient) -> dict[str, str]:
    return {"name": recipient.name, "email": recipient.email}


def _names(meeting: MeetingSnapshot, kind: ParticipantKind) -> list[str]:
    return [p.name for p in meeting.participants if p.kind is kind and p.name]


def _is_link(key: str, value: object) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "✓" if value else ""
    return "" if value is None else str(value)


def _meeting(request: InvitationRequest) -> MeetingSnapshot:
    if request.meeting is None:
        raise ValueError("an invitation request without its meeting cannot be rendered")
    return request.meeting
